import Foundation

/// A listening TCP socket on 127.0.0.1, port 0 (the bound port is read back), whose accept
/// thread hands each connection to its own thread, for test upstreams written with blocking
/// socket calls.
public final class LoopbackListener: Sendable {
    public let port: Int
    private let fd: Int32

    /// `receiveBuffer`: SO_RCVBUF of the accepted connections (set on the listening socket, so
    /// the window is small from the handshake on): a small one makes the peer's writes back up.
    public init(receiveBuffer: Int32? = nil) throws {
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if var size = receiveBuffer {
            setsockopt(listenFD, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        guard let bound = bindLoopback(listenFD), listen(listenFD, 128) == 0 else {
            close(listenFD)
            throw POSIXError(.EADDRINUSE)
        }
        fd = listenFD
        port = bound
    }

    /// Starts accepting; `serve` runs on a thread of its own per connection.
    public func start(_ serve: @escaping @Sendable (Int32) -> Void) {
        let listenFD = fd
        Thread {
            while true {
                let c = accept(listenFD, nil, nil)
                if c < 0 { if errno == EINTR { continue } else { return } }
                Thread { serve(c) }.start()
            }
        }.start()
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

/// Binds `fd` to 127.0.0.1 port 0 and returns the port the kernel chose (nil on failure).
public func bindLoopback(_ fd: Int32) -> Int? {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    return ok ? Int(UInt16(bigEndian: addr.sin_port)) : nil
}

/// A port the kernel considers free right now (bind 127.0.0.1 port 0, read it back, close), for
/// configurations that must name a port before the process that binds it starts.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    guard let port = bindLoopback(fd) else { throw POSIXError(.EADDRINUSE) }
    return port
}

/// Reads from a connected socket until a request head is complete (CR LF CR LF), or until what
/// arrived starts with `prefix` (a protocol the caller serves otherwise, e.g. the HTTP/2 preface);
/// nil when the peer closed first.
public func readHead(_ fd: Int32, orPrefix prefix: [UInt8]? = nil) -> [UInt8]? {
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while !data.containsHeadEnd {
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { return nil }
        data += chunk[0..<n]
        if let prefix, data.starts(with: prefix) { return data }
    }
    return data
}

/// Writes `text` to a connected socket (one send; test answers are small).
public func sendText(_ fd: Int32, _ text: String) {
    _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
}

extension [UInt8] {
    /// Whether the bytes hold the end of a head (CR LF CR LF).
    public var containsHeadEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 { return true }
        return false
    }
}
