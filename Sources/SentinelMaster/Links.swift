import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// One end of a control socketpair, read through a DispatchSource and written from one owner.
///
/// The master holds one per worker (it sends DRAIN / REOPEN-LOGS and receives READY / DRAINED);
/// a worker holds the other end (fd 3) and treats EOF as "the master is gone: drain and exit".
/// The fd is closed only in the source's cancel handler, as Dispatch requires.
/// `@unchecked`: the fd is immutable and a DispatchSource is thread-safe (Dispatch documents it).
public final class ControlLink: @unchecked Sendable {
    let fd: Int32
    let source: any DispatchSourceRead

    /// `onLine` gets each complete line; `onClose` runs once, on EOF, an error or a protocol error.
    public init(fd: Int32, label: String, onLine: @escaping @Sendable (Substring) -> Void, onClose: @escaping @Sendable () -> Void) {
        self.fd = fd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let queue = DispatchQueue(label: label)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        self.source = source
        let buffer = LineState()
        let box = SourceBox(source: source)
        let handler: @Sendable () -> Void = {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0, errno == EINTR { continue }
                if n < 0, errno == EAGAIN || errno == EWOULDBLOCK { return }
                let lines = n > 0 ? buffer.append(chunk[0..<n]) : nil
                // The bytes may be a TICKET-KEYS line: not left in the reused read buffer.
                if n > 0 { chunk.withUnsafeMutableBytes { explicit_bzero($0.baseAddress!, n) } }
                guard let lines else {
                    box.source.cancel()
                    return
                }
                for line in lines { onLine(line) }
            }
        }
        source.setEventHandler(handler: handler)
        source.setCancelHandler {
            Glibc.close(fd)
            onClose()
        }
        source.resume()
    }

    /// Writes whole lines. A peer that is gone loses them. When the socket buffer fills mid-write
    /// (a large metrics report), the rest is written as the peer reads, for at most
    /// `sendPatience`: a torn line would corrupt every later line, so waiting a little is better.
    @discardableResult
    public func send(_ line: String, patience: Duration = sendPatience) -> Bool {
        var line = line
        return line.withUTF8 { send(bytes: UnsafeRawBufferPointer($0), patience: patience) }
    }

    /// Sends the session-ticket keys (`TICKET-KEYS …`) from a line built in its own allocation,
    /// wiped as soon as it is written: no String or array copy of the keys is left behind.
    @discardableResult
    public func send(ticketKeys: TicketKeyMaterial, patience: Duration = sendPatience) -> Bool {
        sendReturningLine(ticketKeys: ticketKeys, patience: patience).sent
    }

    /// `send(ticketKeys:)`, returning the (wiped) line buffer for tests.
    func sendReturningLine(ticketKeys: TicketKeyMaterial, patience: Duration = sendPatience) -> (sent: Bool, line: SecretBytes) {
        let line = ticketKeys.controlLine()
        let sent = line.withBytes { send(bytes: $0, patience: patience) }
        line.wipe()
        return (sent, line)
    }

    private func send(bytes: UnsafeRawBufferPointer, patience: Duration) -> Bool {
        var offset = 0
        let deadline = ContinuousClock.now + patience
        while offset < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            if n > 0 { offset += n; continue }
            if n < 0, errno == EINTR { continue }
            guard n < 0, errno == EAGAIN || errno == EWOULDBLOCK, ContinuousClock.now < deadline else { return false }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, 10)
        }
        return true
    }

    /// How long `send` waits for a full socket buffer to drain before giving up.
    public static let sendPatience: Duration = .milliseconds(200)

    /// Stops reading and closes the fd (once the cancel handler runs).
    public func close() { source.cancel() }
}

/// Lets a source's own handler cancel it (a DispatchSource is thread-safe; Swift lacks the annotation).
private struct SourceBox: @unchecked Sendable {
    let source: any DispatchSourceRead
}

/// The line buffer of one link, touched only on the link's serial queue.
private final class LineState: @unchecked Sendable {
    private var buffer = LineBuffer()

    func append(_ bytes: ArraySlice<UInt8>) -> [Substring]? { try? buffer.append(bytes) }
}

/// Signals and child exits as events for one loop.
///
/// libdispatch installs its own handler for a signal source, so the dispositions are set once,
/// before the sources exist: SIG_IGN for the signals the master handles (the source still fires)
/// and never for SIGCHLD (with SIG_IGN the kernel reaps children itself and waitpid fails).
/// The handlers are `@Sendable` closures built here, in nonisolated code: a closure created in
/// @MainActor code would inherit that isolation and trap when Dispatch runs it.
public final class SignalEvents: @unchecked Sendable {
    let sources: [any DispatchSourceSignal]

    public init(
        signals: [Int32], onSignal: @escaping @Sendable (Int32) -> Void,
        onChildExit: (@Sendable (Int32, ExitStatus) -> Void)? = nil
    ) {
        let queue = DispatchQueue(label: "sentinel.signals")
        var sources: [any DispatchSourceSignal] = []
        signal(SIGPIPE, SIG_IGN)
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            let handler: @Sendable () -> Void = { onSignal(sig) }
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
        if let onChildExit {
            let source = DispatchSource.makeSignalSource(signal: SIGCHLD, queue: queue)
            // Signals coalesce: reap until nothing is left.
            let handler: @Sendable () -> Void = {
                while true {
                    var status: Int32 = 0
                    let pid = waitpid(-1, &status, WNOHANG)
                    if pid < 0, errno == EINTR { continue }
                    guard pid > 0 else { return }
                    onChildExit(pid, ExitStatus(waitStatus: status))
                }
            }
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    public func cancel() { for s in sources { s.cancel() } }
}

/// Sends all of `text` on the stream socket `fd` (blocking), retrying on EINTR. MSG_NOSIGNAL: a
/// peer that went away makes it return false, never raises SIGPIPE.
@discardableResult
func sendAll(_ text: String, on fd: Int32) -> Bool {
    var text = text
    return text.withUTF8 { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }
}
