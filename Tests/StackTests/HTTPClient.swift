import Foundation

/// A minimal HTTP/1.1 client that keeps its connection alive, as a browser or a pool would.
/// `get` reconnects when the server announced `Connection: close` (that is not a failure) and
/// reports a failure when a request gets no complete response.
final class KeepAliveClient {
    let port: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private(set) var connections = 0

    init(port: Int) { self.port = port }
    deinit { if fd >= 0 { close(fd) } }

    enum Failure: Error { case connect, closed }

    func get(_ path: String) throws -> (status: Int, body: String) {
        if fd < 0 { try connect() }
        let request = "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        let (head, body) = try readResponse()
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        if head.lowercased().contains("\r\nconnection: close") {
            close(fd)
            fd = -1
        }
        return (status, body)
    }

    private func connect() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); fd = -1; throw Failure.connect }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        buffer = []
        connections += 1
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { return false }
        buffer += chunk[0..<n]
        return true
    }

    private func readResponse() throws -> (String, String) {
        var end: Int?
        while end == nil {
            if let i = find([13, 10, 13, 10]) { end = i; break }
            guard fill() else { close(fd); fd = -1; throw Failure.closed }
        }
        let head = String(decoding: buffer[0..<end!], as: UTF8.self)
        let length = head.lowercased().split(separator: "\r\n")
            .first { $0.hasPrefix("content-length:") }.flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
        while buffer.count < end! + 4 + length {
            guard fill() else { close(fd); fd = -1; throw Failure.closed }
        }
        let body = String(decoding: buffer[(end! + 4)..<(end! + 4 + length)], as: UTF8.self)
        buffer.removeFirst(end! + 4 + length)
        return (head, body)
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where buffer[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}
