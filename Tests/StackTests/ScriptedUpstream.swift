import SentinelTestSupport
import Foundation
import Synchronization

/// A tiny HTTP upstream for the cluster tests: answers `/hc` (the health-check path) with
/// `probeStatus` and everything else with 200, one response per connection, and counts both.
/// A connection that opens with the HTTP/2 preface is a `grpc` health probe: it gets a
/// grpc.health.v1 response with `grpcServingStatus` (1 SERVING, 2 NOT_SERVING), hand-framed.
final class ScriptedUpstream: Sendable {
    let port: Int
    private let listener: LoopbackListener
    private let counts = Mutex((probes: 0, requests: 0))
    let probeStatus: Int
    let grpcServingStatus: UInt8

    init(probeStatus: Int = 200, grpcServingStatus: UInt8 = 1) throws {
        self.probeStatus = probeStatus
        self.grpcServingStatus = grpcServingStatus
        listener = try LoopbackListener()
        port = listener.port
        listener.start { [self] c in self.serve(c) }
    }

    var probes: Int { counts.withLock { $0.probes } }
    var requests: Int { counts.withLock { $0.requests } }

    private func serve(_ c: Int32) {
        defer { close(c) }
        guard let data = readHead(c, orPrefix: Array("PRI ".utf8)) else { return }
        if data.starts(with: Array("PRI ".utf8)) { return serveGRPC(c, data) }
        let line = String(decoding: data.prefix { $0 != 13 }, as: UTF8.self)
        let probe = line.split(separator: " ").dropFirst().first == "/hc"
        counts.withLock { if probe { $0.probes += 1 } else { $0.requests += 1 } }
        let status = probe ? probeStatus : 200
        sendText(c, "HTTP/1.1 \(status) X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    }

    /// Reads the client's frames up to its request's END_STREAM, answers one Check, then waits
    /// for the client to close (closing first with unread bytes could reset the answer away).
    private func serveGRPC(_ c: Int32, _ start: [UInt8]) {
        var data = start
        var chunk = [UInt8](repeating: 0, count: 4096)
        while data.count < 24 {  // the rest of the preface
            let n = recv(c, &chunk, chunk.count, 0)
            guard n > 0 else { return }
            data += chunk[0..<n]
        }
        data.removeFirst(24)
        func requestEnded() -> Bool {
            var i = 0
            while data.count - i >= 9 {
                let length = Int(data[i]) << 16 | Int(data[i + 1]) << 8 | Int(data[i + 2])
                let (type, flags) = (data[i + 3], data[i + 4])
                if (type == 0 || type == 1) && flags & 1 == 1 { return true }
                i += 9 + length
            }
            return false
        }
        while !requestEnded() {
            let n = recv(c, &chunk, chunk.count, 0)
            guard n > 0 else { return }
            data += chunk[0..<n]
        }
        counts.withLock { $0.probes += 1 }
        func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt8, _ payload: [UInt8]) -> [UInt8] {
            [0, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF), type, flags, 0, 0, 0, stream] + payload
        }
        // HPACK without Huffman: :status 200 (static 8); content-type (static 31) literal; grpc-status literal.
        let head: [UInt8] = [0x88, 0x0F, 0x10, 16] + Array("application/grpc".utf8)
        let trailers: [UInt8] = [0x00, 11] + Array("grpc-status".utf8) + [1, UInt8(ascii: "0")]
        let bytes = frame(4, 0, 0, []) + frame(4, 1, 0, []) + frame(1, 4, 1, head)
            + frame(0, 0, 1, [0, 0, 0, 0, 2, 0x08, grpcServingStatus]) + frame(1, 5, 1, trailers)
        _ = bytes.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        shutdown(c, Int32(SHUT_WR))
        while recv(c, &chunk, chunk.count, 0) > 0 {}
    }

}
