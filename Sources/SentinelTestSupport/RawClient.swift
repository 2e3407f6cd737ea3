import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking raw-TCP HTTP/1.1 test client over POSIX sockets, so tests see exactly the bytes
/// the server sends (including malformed-request handling and connection closes).
public final class RawClient {
    public struct Response {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    public let fd: Int32
    private var buffer: [UInt8] = []

    /// `receiveBuffer`: SO_RCVBUF before connecting (a small window makes the server's writes
    /// back up quickly). Reads give up after 10 s of silence (the call then reports a close).
    public init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let error = errno
            close(fd)
            throw ClientError.connect(error)
        }
    }

    deinit { close(fd) }

    public enum ClientError: Error { case connect(Int32), closed, malformed }

    public func send(_ text: String) { send(bytes: Array(text.utf8)) }

    public func send(bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads more bytes; false on EOF or error.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer += chunk[0..<n]
        return true
    }

    /// True when the server closed the connection (EOF or reset) with nothing more to read.
    public func isClosedByServer() -> Bool {
        buffer.isEmpty && !fill()
    }

    /// A Content-Length response with its body as bytes.
    public func readResponseBytes() throws -> (status: Int, body: [UInt8]) {
        let r = try readResponse(head: true)
        let length = Int(r.header("content-length") ?? "0") ?? 0
        while buffer.count < length { guard fill() else { throw ClientError.closed } }
        let body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return (r.status, body)
    }

    public func readResponse(head: Bool = false) throws -> Response {
        var headerEnd: Int?
        while headerEnd == nil {
            if let i = find([13, 10, 13, 10]) { headerEnd = i; break }
            guard fill() else { throw ClientError.closed }
        }
        let headText = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        buffer.removeFirst(headerEnd! + 4)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw ClientError.malformed }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters())
        }
        let length = Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
        var body = ""
        if !head {
            while buffer.count < length { guard fill() else { throw ClientError.closed } }
            body = String(decoding: buffer[0..<length], as: UTF8.self)
            buffer.removeFirst(length)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// A chunked body's data (after a head read with `readResponse(head: true)`), up to and
    /// including the last chunk; trailers are skipped.
    public func readChunkedBody() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            // (In a String, "\r\n" is one Character.)
            let line = try readRaw(until: "\r\n").utf8.dropLast(2)
            guard let size = Int(String(decoding: line, as: UTF8.self).split(separator: ";").first ?? "", radix: 16) else {
                throw ClientError.malformed
            }
            if size == 0 {
                // Trailer fields, then the empty line.
                while try readRaw(until: "\r\n") != "\r\n" {}
                return body
            }
            while buffer.count < size + 2 { guard fill() else { throw ClientError.closed } }
            body += buffer[0..<size]
            guard buffer[size] == 13, buffer[size + 1] == 10 else { throw ClientError.malformed }
            buffer.removeFirst(size + 2)
        }
    }

    /// Every byte until the server closes the connection.
    public func readAllBytes() -> [UInt8] {
        while fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// Raw bytes up to and including the first occurrence of `marker`.
    public func readRaw(until marker: String) throws -> String {
        let needle = Array(marker.utf8)
        while true {
            if let i = find(needle) {
                let text = String(decoding: buffer[0..<(i + needle.count)], as: UTF8.self)
                buffer.removeFirst(i + needle.count)
                return text
            }
            guard fill() else { throw ClientError.closed }
        }
    }

    /// Everything until the server closes the connection.
    public func readAll() -> String {
        while fill() {}
        defer { buffer.removeAll() }
        return String(decoding: buffer, as: UTF8.self)
    }

    public func request(_ text: String, head: Bool = false) throws -> Response {
        send(text)
        return try readResponse(head: head)
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where buffer[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}

/// One HTTP/1.1 GET over a fresh connection that asks to close; the whole response text, read
/// until the server closes.
public func httpGet(port: Int, path: String) throws -> String {
    let client = try RawClient(port: port)
    client.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    return client.readAll()
}

/// A minimal HTTP/1.1 client that keeps its connection alive, as a browser or a pool would.
/// `get` reconnects when the server announced `Connection: close` (that is not a failure) and
/// reports a failure when a request gets no complete response.
public final class KeepAliveClient {
    public let port: Int
    private var client: RawClient?
    /// Connections opened so far.
    public private(set) var connections = 0

    public init(port: Int) { self.port = port }

    public enum Failure: Error { case connect, closed }

    public func get(_ path: String) throws(Failure) -> (status: Int, body: String) {
        let client: RawClient
        if let open = self.client { client = open } else { client = try connect() }
        do {
            let r = try client.request("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            if r.header("connection")?.lowercased() == "close" { self.client = nil }
            return (r.status, r.body)
        } catch {
            self.client = nil
            throw .closed
        }
    }

    private func connect() throws(Failure) -> RawClient {
        guard let c = try? RawClient(port: port) else { throw .connect }
        connections += 1
        client = c
        return c
    }
}
