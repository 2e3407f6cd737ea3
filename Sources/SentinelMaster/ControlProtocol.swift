/// Messages on a worker's control socketpair, one line each ("READY\n").
///
/// Lines, not a binary format: the protocol has five messages, each a few bytes, and a line
/// protocol is readable in `strace` output and trivially bounded (a line longer than
/// `LineBuffer.maxLine` is a protocol error and ends the link).
public enum WorkerMessage: Sendable, Equatable {
    /// Listeners started on the inherited sockets; the worker is serving.
    case ready
    /// Free text for `sentinel-stack status` (not interpreted).
    case status(String)
    /// The worker finished draining; `clean` is false when connections had to be cut off.
    case drained(clean: Bool)
    /// After DRAIN: the worker closed its listening channels and no longer polls the shared
    /// sockets, so the next generation's worker of the same slot may start accepting.
    case listenersClosed
    /// Answer to PING `seq`, sent once a task ran on every event loop of the worker.
    case pong(UInt64)
    /// The worker cannot start (or go on) and exits: its own reason, for the verdict of `up`
    /// and `reload` and the log (one line, cut to fit the protocol's line limit).
    case failed(String)

    public var line: String {
        switch self {
        case .ready: return "READY\n"
        case .status(let text): return "STATUS \(text.filter { $0 != "\n" })\n"
        case .drained(let clean): return "DRAINED \(clean ? "clean" : "forced")\n"
        case .listenersClosed: return "LISTENERS-CLOSED\n"
        case .pong(let seq): return "PONG \(seq)\n"
        case .failed(let reason): return "FAILED \(Self.oneLine(reason))\n"
        }
    }

    public init?(line: Substring) {
        if line == "READY" { self = .ready }
        else if line.hasPrefix("STATUS ") { self = .status(String(line.dropFirst(7))) }
        else if line == "DRAINED clean" { self = .drained(clean: true) }
        else if line == "DRAINED forced" { self = .drained(clean: false) }
        else if line == "LISTENERS-CLOSED" { self = .listenersClosed }
        else if line.hasPrefix("PONG "), let seq = UInt64(line.dropFirst(5)) { self = .pong(seq) }
        else if line.hasPrefix("FAILED ") { self = .failed(String(line.dropFirst(7))) }
        else { return nil }
    }

    /// `text` on one line (newlines become spaces), at most `maxReason` bytes.
    static func oneLine(_ text: String) -> String {
        var out = ""
        for ch in text {
            let c: Character = ch.isNewline ? " " : ch
            if out.utf8.count + c.utf8.count > maxReason { return out + "…" }
            out.append(c)
        }
        return out
    }

    /// Bound of a FAILED reason, well under `LineBuffer.maxLine`.
    static let maxReason = 2048
}

/// Master → worker messages.
public enum MasterMessage: Sendable, Equatable {
    /// Stop accepting, finish in-flight requests, close keep-alives, report DRAINED, exit.
    case drain
    /// Reopen log files (log rotation, SIGUSR1 on the master).
    case reopenLogs
    /// Start accepting on the listening sockets. A worker starts with its listeners registered
    /// but not polled; the master sends ACCEPT once no worker of another generation still polls
    /// the same sockets (see `MasterState`: accept hand-over).
    case accept
    /// Liveness check for systemd's watchdog: answer PONG `seq` once every event loop ran a task.
    case ping(UInt64)
    /// The instance's session-ticket keys (sent at spawn, before ACCEPT, and after every
    /// rotation). The line carries key material: never log it.
    case ticketKeys(TicketKeyMaterial)

    public var line: String {
        switch self {
        case .drain: return "DRAIN\n"
        case .reopenLogs: return "REOPEN-LOGS\n"
        case .accept: return "ACCEPT\n"
        case .ping(let seq): return "PING \(seq)\n"
        // Tests only: the master sends keys with `ControlLink.send(ticketKeys:)`, from a
        // wiped buffer (a String's storage is never wiped).
        case .ticketKeys(let keys): return "TICKET-KEYS \(keys.hex)\n"
        }
    }

    public init?(line: Substring) {
        switch line {
        case "DRAIN": self = .drain
        case "REOPEN-LOGS": self = .reopenLogs
        case "ACCEPT": self = .accept
        case _ where line.hasPrefix("PING "):
            guard let seq = UInt64(line.dropFirst(5)) else { return nil }
            self = .ping(seq)
        case _ where line.hasPrefix("TICKET-KEYS "):
            guard let keys = TicketKeyMaterial(hex: line.dropFirst(12)) else { return nil }
            self = .ticketKeys(keys)
        default: return nil
        }
    }
}

/// Requests on the master's control socket (`sentinel-stack status|reload|stop`), one line each.
/// The answer is one JSON line; `RELOAD` is answered only once the verdict is known, and `STOP`
/// is acknowledged at once, then the connection stays open until the master exits.
public enum ControlRequest: String, Sendable, Equatable {
    case status = "STATUS"
    case reload = "RELOAD"
    case stop = "STOP"
}

/// Splits a byte stream into lines, bounding each one.
public struct LineBuffer: Sendable {
    public static let maxLine = 4096
    private var pending: [UInt8] = []

    public init() {}

    public enum Failure: Error, Equatable { case lineTooLong }

    /// Appends bytes and returns the complete lines (without "\n") they finish.
    public mutating func append(_ bytes: some Sequence<UInt8>) throws(Failure) -> [Substring] {
        pending.append(contentsOf: bytes)
        var lines: [Substring] = []
        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(Substring(decoding: pending[..<nl], as: UTF8.self))
            pending.removeSubrange(...nl)
        }
        if pending.count > Self.maxLine { throw .lineTooLong }
        return lines
    }
}
