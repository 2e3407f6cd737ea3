import SentinelReactor

/// A minimal HTTP/1.1 keep-alive responder: every request head (anything up to CRLF CRLF;
/// no bodies) gets the same 100-byte response, pipelined requests in one write. It does the
/// least an HTTP server can do, so its CPU per request is the reactor's own cost plus two
/// system calls.
final class HTTPResponder: ConnectionDriver {
    static let body = String(repeating: "x", count: 99) + "\n"
    static let response = Array("HTTP/1.1 200 OK\r\nServer: reactor-bench\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n\(body)".utf8)

    /// How many bytes of CR LF CR LF the input ended with.
    var matched = 0

    func start(_ io: inout DriverIO) {}

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        var requests = 0
        for byte in buffer.readable {
            switch (matched, byte) {
            case (0, 13), (2, 13): matched += 1
            case (1, 10): matched = 2
            case (3, 10):
                requests += 1
                matched = 0
            case (_, 13): matched = 1
            default: matched = 0
            }
        }
        guard requests > 0 else { return }
        var out = io.makeBuffer()
        for _ in 0..<requests {
            if out.writableBytes < Self.response.count {
                io.write(.downstream, out)
                out = io.makeBuffer()
            }
            out.append(Self.response)
        }
        io.write(.downstream, out)
    }

    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) { io.finish() }
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { io.finish(.reset) }
}
