#if canImport(Glibc)
import Glibc
import Logging
import SentinelObservability
#endif

/// What the master tells its guard process, one line each on the guard's socket (fd 3).
///
/// The guard (`sentinel-stack guard`, a hidden role) is a small single-threaded sibling of the
/// master's children. It only listens: the master registers every worker and agent it spawns
/// (`WATCH`) and forgets each one it reaps (`FORGET`). When the master exits normally it sends
/// `DISARM` first. When the guard reads EOF without `DISARM`, the master died (SIGKILL, crash):
/// the guard sends SIGTERM to every agent's process group at once, SIGKILLs every group still
/// there at its deadline, and exits. Workers are not sent SIGTERM (they drain by themselves on
/// EOF of their own control socket); they are SIGKILLed only if still running past theirs.
///
/// Why a sibling and not a parent shim per agent: the agent keeps being the master's direct
/// child, so its pid (in `status`, in signals to its process group, in `waitpid`) is the pid
/// the master tracks, and the exit status the master sees is the agent's own. Why not
/// PR_SET_PDEATHSIG: it fires when the spawning *thread* exits, and the master spawns from
/// Swift concurrency's pool threads, which come and go (FINDINGS.md); it also reaches only the
/// agent process, not its process group, and cannot escalate from TERM to KILL.
public enum GuardMessage: Sendable, Equatable {
    /// Watch `pid` (a process group leader) whose /proc start time is `startTime`; on master
    /// death send SIGTERM to its group at once when `term`, SIGKILL it after `killAfter`.
    case watch(pid: Int32, startTime: String, term: Bool, killAfter: Duration)
    case forget(pid: Int32)
    /// The master exits normally: EOF then means nothing.
    case disarm

    public var line: String {
        switch self {
        case .watch(let pid, let start, let term, let after):
            let ms = after.components.seconds * 1000 + after.components.attoseconds / 1_000_000_000_000_000
            return "WATCH \(pid) \(start) \(term ? "term" : "kill") \(ms)\n"
        case .forget(let pid): return "FORGET \(pid)\n"
        case .disarm: return "DISARM\n"
        }
    }

    public init?(line: Substring) {
        let parts = line.split(separator: " ")
        switch parts.first {
        case "WATCH":
            guard parts.count == 5, let pid = Int32(parts[1]), pid > 1, let ms = Int64(parts[4]), ms >= 0,
                  parts[3] == "term" || parts[3] == "kill" else { return nil }
            self = .watch(pid: pid, startTime: String(parts[2]), term: parts[3] == "term", killAfter: .milliseconds(ms))
        case "FORGET":
            guard parts.count == 2, let pid = Int32(parts[1]) else { return nil }
            self = .forget(pid: pid)
        case "DISARM" where parts.count == 1:
            self = .disarm
        default:
            return nil
        }
    }
}

/// The guard's rules without processes: the watched set, and what to do once the master is gone.
public struct GuardState: Sendable {
    public struct Entry: Sendable, Equatable {
        public var startTime: String
        public var term: Bool
        public var killAfter: Duration
    }

    public private(set) var watched: [Int32: Entry] = [:]
    public private(set) var disarmed = false

    public init() {}

    public mutating func apply(_ message: GuardMessage) {
        switch message {
        case .watch(let pid, let start, let term, let after): watched[pid] = Entry(startTime: start, term: term, killAfter: after)
        case .forget(let pid): watched[pid] = nil
        case .disarm: disarmed = true
        }
    }

    /// The groups to SIGTERM at once when the master is gone.
    public var termAtOnce: [Int32] { watched.filter(\.value.term).keys.sorted() }
}

/// The guard process's main loop (`sentinel-stack guard`): blocking reads on `fd` until EOF, then
/// the clean-up described at `GuardMessage`. Single-threaded on purpose: no Dispatch, no NIO, so
/// it starts in milliseconds and nothing in it can wedge.
public enum OrphanGuard {
    public static func run(fd: Int32) -> Int32 {
        // The master decides this process's life: terminal and service-manager signals that
        // reach it are ignored (SIGKILL still works); EOF on fd 3 is the only trigger.
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1] { signal(sig, SIG_IGN) }
        var state = GuardState()
        var buffer = LineBuffer()
        var chunk = [UInt8](repeating: 0, count: 4096)
        reading: while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0, let lines = try? buffer.append(chunk[0..<n]) else { break reading }
            for line in lines { if let m = GuardMessage(line: line) { state.apply(m) } }
        }
        close(fd)
        guard !state.disarmed, !state.watched.isEmpty else { return 0 }
        let log = Logger.sentinel(role: "guard")
        log.emit("warn", "master_gone", ["watched": .ints(state.watched.keys.sorted())])
        let start = ContinuousClock.now
        for pid in state.termAtOnce where isSame(pid, state.watched[pid]!) {
            signalGroup(pid, SIGTERM)
            log.emit("warn", "orphan_terminated", ["orphan_pid": .int(pid)])
        }
        var remaining = state.watched
        while !remaining.isEmpty {
            let elapsed = ContinuousClock.now - start
            for (pid, entry) in remaining {
                if !isSame(pid, entry) {
                    remaining[pid] = nil
                } else if elapsed >= entry.killAfter {
                    signalGroup(pid, SIGKILL)
                    log.emit("warn", "orphan_killed", ["orphan_pid": .int(pid)])
                    remaining[pid] = nil
                }
            }
            if !remaining.isEmpty { usleep(20_000) }
        }
        return 0
    }

    /// Still the process that was registered (same pid, same start time) and not a zombie.
    static func isSame(_ pid: Int32, _ entry: GuardState.Entry) -> Bool {
        guard let stat = AgentPidFile.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return false }
        return String(fields[19]) == entry.startTime
    }

    /// The whole process group (each worker and agent leads its own), else the process alone.
    static func signalGroup(_ pid: Int32, _ sig: Int32) {
        if kill(-pid, sig) != 0 { kill(pid, sig) }
    }
}

/// The master's end of the guard's socket. Writes only; owned by the master loop.
final class GuardLink {
    let pid: Int32
    private let fd: Int32

    init(pid: Int32, fd: Int32) {
        self.pid = pid
        self.fd = fd
    }

    deinit { close(fd) }

    func send(_ message: GuardMessage) {
        sendAll(message.line, on: fd)
    }

    /// Sends DISARM and EOF, then waits until the guard has exited and is reaped (by this call or
    /// by the SIGCHLD handler), at most `timeout`.
    func disarmAndWait(timeout: Duration) {
        send(.disarm)
        shutdown(fd, Int32(SHUT_WR))
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) { return }
            usleep(2_000)  // bounded: the guard exits as soon as it reads EOF
        }
    }

    /// Spawns `executable guardArguments…` with the read end of a fresh socketpair as fd 3.
    static func spawn(executable: String, arguments: [String]) throws(Spawner.Failure) -> GuardLink {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw Spawner.Failure(description: "socketpair: \(errorText())")
        }
        defer { close(pair[1]) }
        do {
            let pid = try Spawner.spawn(
                executable: executable, arguments: arguments, environment: Spawner.workerEnvironment(adding: [:]), fds: [pair[1]])
            // The guard only reads; the master only writes.
            shutdown(pair[0], Int32(SHUT_RD))
            return GuardLink(pid: pid, fd: pair[0])
        } catch {
            close(pair[0])
            throw error
        }
    }
}
