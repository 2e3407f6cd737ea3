import CSentinelLinux
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// One client of the master's control socket; the master loop answers it, then closes it.
public final class ControlConnection: Sendable {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    /// Writes one JSON line. Never raises SIGPIPE: a client that went away just misses the answer.
    func reply(_ line: String) {
        sendAll(line + "\n", on: fd)
    }

    func close() { _ = Glibc.close(fd) }
}

/// The master's unix control socket (`<runtime-directory>/control.sock`, mode 0600).
///
/// Only the master's own user (or root) may talk to it: SO_PEERCRED is checked on every
/// connection, on top of the directory's 0700 mode. Each connection carries one request line;
/// requests reach the master loop through `deliver`.
/// `@unchecked`: a DispatchSource is thread-safe (Dispatch documents it); Swift only lacks the annotation.
public final class ControlServer: @unchecked Sendable {
    let fd: Int32
    let source: any DispatchSourceRead
    public let path: String

    public init(path: String, deliver: @escaping @Sendable (ControlRequest, ControlConnection) -> Void) throws(ControlError) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ControlError("control socket: \(errorText())") }
        unlink(path)
        var addr = Self.address(path)
        let old = umask(0o177)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(old)
        guard rc == 0, listen(fd, 16) == 0 else {
            let e = errorText()
            Glibc.close(fd)
            throw ControlError("cannot listen on control socket \(path): \(e)")
        }
        self.fd = fd
        self.path = path
        let queue = DispatchQueue(label: "sentinel.control")
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        let handler: @Sendable () -> Void = {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                DispatchQueue.global().async { Self.serve(client, deliver: deliver) }
            }
        }
        source.setEventHandler(handler: handler)
        source.setCancelHandler { Glibc.close(fd) }
        source.resume()
    }

    /// Stops accepting and removes the socket file.
    public func close() {
        source.cancel()
        unlink(path)
    }

    static func serve(_ client: Int32, deliver: @Sendable (ControlRequest, ControlConnection) -> Void) {
        let connection = ControlConnection(fd: client)
        var uid: uid_t = 0
        guard sentinel_peer_uid(client, &uid) == 0, uid == getuid() || uid == 0 else {
            connection.reply(#"{"ok":false,"error":"permission denied"}"#)
            return connection.close()
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = LineBuffer()
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0, let lines = try? buffer.append(chunk[0..<n]) else { return connection.close() }
            guard let line = lines.first else { continue }
            guard let request = ControlRequest(rawValue: String(line)) else {
                connection.reply(#"{"ok":false,"error":"unknown request"}"#)
                return connection.close()
            }
            return deliver(request, connection)
        }
    }

    static func address(_ path: String) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return addr
    }
}

/// The client side, used by `sentinel-stack status|reload|stop`.
public enum ControlClient {
    /// Sends `request` and returns every line the master writes until it closes the connection
    /// (for `stop`: until the master has exited). Throws when no master listens there.
    public static func send(_ request: ControlRequest, socketPath: String, onLine: (String) -> Void) throws(ControlError) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError("socket: \(errorText())") }
        defer { close(fd) }
        var addr = ControlServer.address(socketPath)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw ControlError("no sentinel-stack master at \(socketPath): \(errorText())") }
        let line = request.rawValue + "\n"
        _ = line.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var buffer = LineBuffer()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            guard let lines = try? buffer.append(chunk[0..<n]) else { throw ControlError("answer line too long") }
            for l in lines { onLine(String(l)) }
        }
    }
}
