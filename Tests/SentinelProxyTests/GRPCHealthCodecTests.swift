import NIOCore
import NIOEmbedded
import NIOHTTP2
import Testing

@testable import SentinelProxy

/// The gRPC health-check bytes as pure functions: protobuf request/response and message framing,
/// including truncated, oversized and hostile inputs.
@Suite struct GRPCHealthCodecTests {
    typealias Codec = GRPCHealthCodec

    @Test func requestEncoding() {
        #expect(Codec.encodeRequest(service: "") == [])
        #expect(Codec.encodeRequest(service: "a.B") == [0x0A, 3, 0x61, 0x2E, 0x42])
        // 200 bytes: the length is a two-byte varint (0xC8 0x01).
        let long = String(repeating: "x", count: 200)
        let encoded = Codec.encodeRequest(service: long)
        #expect(Array(encoded.prefix(3)) == [0x0A, 0xC8, 0x01])
        #expect(encoded.count == 203)
        // UTF-8 bytes, not characters.
        #expect(Codec.encodeRequest(service: "é") == [0x0A, 2, 0xC3, 0xA9])
    }

    @Test func framing() {
        #expect(Codec.frame([]) == [0, 0, 0, 0, 0])
        #expect(Codec.frame([0x0A, 1, 0x61]) == [0, 0, 0, 0, 3, 0x0A, 1, 0x61])
        #expect(Array(Codec.frame([UInt8](repeating: 7, count: 0x1_0203)).prefix(5)) == [0, 0, 1, 2, 3])
    }

    @Test func responseDecoding() throws {
        #expect(try Codec.decodeResponse([0x08, 1]) == .serving)
        #expect(try Codec.decodeResponse([0x08, 2]) == .notServing)
        #expect(try Codec.decodeResponse([0x08, 3]) == .serviceUnknown)
        #expect(try Codec.decodeResponse([0x08, 0]) == .unknown)
        // proto3 omits a default value: the empty message is UNKNOWN.
        #expect(try Codec.decodeResponse([]) == .unknown)
        // A value this build does not know, as a multi-byte varint.
        #expect(try Codec.decodeResponse([0x08, 0x96, 0x01]) == .other(150))
        // The last occurrence of a scalar wins.
        #expect(try Codec.decodeResponse([0x08, 2, 0x08, 1]) == .serving)
        // Unknown fields of every wire type are skipped: varint, 64-bit, length-delimited, 32-bit.
        let unknown: [UInt8] = [
            0x10, 0xFF, 0x01,  // field 2 varint
            0x19, 1, 2, 3, 4, 5, 6, 7, 8,  // field 3 fixed64
            0x22, 3, 0x61, 0x62, 0x63,  // field 4 bytes
            0x2D, 1, 2, 3, 4,  // field 5 fixed32
            0xF8, 0xFF, 0xFF, 0xFF, 0x0F, 9,  // field 2^28-1 varint (5-byte key)
        ]
        #expect(try Codec.decodeResponse(unknown + [0x08, 1]) == .serving)
        #expect(try Codec.decodeResponse([0x08, 1] + unknown) == .serving)
    }

    @Test func malformedResponses() {
        func error(_ bytes: [UInt8]) -> Codec.DecodeError? {
            do {
                _ = try Codec.decodeResponse(bytes)
                return nil
            } catch {
                return error
            }
        }
        #expect(error([0x08]) == .truncated)  // key without its value
        #expect(error([0x08, 0x80]) == .truncated)  // varint continues past the end
        #expect(error([0x08] + [UInt8](repeating: 0xFF, count: 10) + [1]) == .varintTooLong)
        #expect(error([0x22, 5, 1, 2]) == .truncated)  // length beyond the end
        #expect(error([0x22, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) == .truncated)  // huge length
        #expect(error([0x19, 1, 2, 3]) == .truncated)  // fixed64 cut short
        #expect(error([0x2D, 1]) == .truncated)  // fixed32 cut short
        #expect(error([0x0B]) == .invalidWireType(3))  // start group
        #expect(error([0x0C]) == .invalidWireType(4))  // end group
        #expect(error([0x0E]) == .invalidWireType(6))
        #expect(error([0x0F]) == .invalidWireType(7))
        #expect(error([0x00, 1]) == .fieldNumberZero)
        #expect(error([0x0A, 1, 1]) == .statusNotVarint)  // status as bytes
        #expect(error([0x0D, 1, 0, 0, 0]) == .statusNotVarint)  // status as fixed32
        #expect(error([UInt8](repeating: 0, count: Codec.maxMessageBytes + 1)) == .tooLarge(Codec.maxMessageBytes + 1))
    }

    @Test func messageReaderReassemblesSplitMessages() throws {
        let stream = Codec.frame([0x08, 1]) + Codec.frame([]) + Codec.frame([0x08, 2, 0x10, 5])
        var reader = Codec.MessageReader()
        var messages: [[UInt8]] = []
        for byte in stream {
            try reader.append([byte])
            while let m = try reader.next() { messages.append(m) }
        }
        #expect(messages == [[0x08, 1], [], [0x08, 2, 0x10, 5]])
        #expect(reader.pendingBytes == 0)
        // A truncated message stays pending.
        var partial = Codec.MessageReader()
        try partial.append([0, 0, 0, 0, 4, 0x08])
        #expect(try partial.next() == nil)
        #expect(partial.pendingBytes == 6)
    }

    @Test func messageReaderRefusesCompressionBadFlagsAndOversizedMessages() throws {
        func firstError(_ bytes: [UInt8]) -> Codec.DecodeError? {
            var reader = Codec.MessageReader()
            do {
                try reader.append(bytes)
                _ = try reader.next()
                return nil
            } catch {
                return error
            }
        }
        #expect(firstError([1, 0, 0, 0, 2, 0x08, 1]) == .compressed)
        #expect(firstError([2, 0, 0, 0, 0]) == .invalidFlag(2))
        // The prefix alone is enough to refuse an oversized message: its bytes are never awaited.
        #expect(firstError([0, 0, 1, 0, 1]) == .tooLarge(65_537))
        #expect(firstError([0, 0xFF, 0xFF, 0xFF, 0xFF]) == .tooLarge(0xFFFF_FFFF))
        // The whole body is bounded too, however it is split into messages.
        var reader = Codec.MessageReader()
        let chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var thrown: Codec.DecodeError?
        do { for _ in 0..<5 { try reader.append(chunk) } } catch { thrown = error }
        #expect(thrown == .tooLarge(5 * 16 * 1024))
    }

    @Test func statusNames() {
        #expect(Codec.statusName(0) == "OK")
        #expect(Codec.statusName(12) == "UNIMPLEMENTED")
        #expect(Codec.statusName(16) == "UNAUTHENTICATED")
        #expect(Codec.statusName(99) == "code 99")
    }
}

/// `GRPCHealthProbeHandler` on an EmbeddedChannel: the frames it sends and its verdict for
/// response shapes a real server rarely produces.
@Suite struct GRPCHealthProbeHandlerTests {
    final class Verdicts {
        var list: [ProbeVerdict] = []
    }

    func run(_ frames: [HTTP2Frame.FramePayload], service: String = "svc") throws -> (sent: [HTTP2Frame], verdicts: [ProbeVerdict]) {
        let verdicts = Verdicts()
        let fields = try #require(GRPCHealthProbeHandler.requestFields(authority: "h.internal:50051"))
        let handler = GRPCHealthProbeHandler(fields: fields, service: service) { verdicts.list.append($0) }
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var sent: [HTTP2Frame] = []
        while let f = try channel.readOutbound(as: HTTP2Frame.self) { sent.append(f) }
        for payload in frames { try channel.writeInbound(HTTP2Frame(streamID: 1, payload: payload)) }
        _ = try? channel.finish()
        return (sent, verdicts.list)
    }

    static let ok: [(String, String)] = [(":status", "200"), ("content-type", "application/grpc")]

    func message(_ bytes: [UInt8]) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(ByteBuffer(bytes: GRPCHealthCodec.frame(bytes)))))
    }

    func headers(_ list: [(String, String)], end: Bool = false) -> HTTP2Frame.FramePayload {
        .headers(.init(headers: .init(list), endStream: end))
    }

    @Test func sendsOneCallOnStreamOne() throws {
        let (sent, _) = try run([], service: "grpc.health.v1.Health")
        #expect(sent.count == 2)
        #expect(sent.allSatisfy { $0.streamID == 1 })
        guard case .headers(let h) = sent.first?.payload, case .data(let d) = sent.last?.payload else {
            Issue.record("expected HEADERS then DATA")
            return
        }
        #expect(!h.endStream)
        #expect(d.endStream)
        let fields = h.headers.map { "\($0.name): \($0.value)" }
        #expect(
            fields == [
                ":method: POST", ":scheme: http", ":authority: h.internal:50051", ":path: /grpc.health.v1.Health/Check",
                "content-type: application/grpc", "te: trailers", "user-agent: sentinel",
            ])
        guard case .byteBuffer(let body) = d.data else { return }
        #expect(Array(body.readableBytesView) == GRPCHealthCodec.frame(GRPCHealthCodec.encodeRequest(service: "grpc.health.v1.Health")))
    }

    @Test func servingIsHealthy() throws {
        let (_, v) = try run([headers(Self.ok), message([0x08, 1]), headers([("grpc-status", "0")], end: true)])
        #expect(v == [.healthy])
        // An interim 1xx head before the real one is skipped.
        let (_, v2) = try run([headers([(":status", "103")]), headers(Self.ok), message([0x08, 1]), headers([("grpc-status", "0")], end: true)])
        #expect(v2 == [.healthy])
    }

    @Test func everyOtherShapeIsAFailureWithAReason() throws {
        let cases: [([HTTP2Frame.FramePayload], String)] = [
            ([headers(Self.ok), message([0x08, 2]), headers([("grpc-status", "0")], end: true)], "health status NOT_SERVING"),
            ([headers(Self.ok), message([]), headers([("grpc-status", "0")], end: true)], "health status UNKNOWN"),
            ([headers(Self.ok + [("grpc-status", "12"), ("grpc-message", "unknown service\r\nx")], end: true)],
             "grpc-status 12 UNIMPLEMENTED: unknown service??x"),
            ([headers(Self.ok + [("grpc-status", "0")], end: true)], "grpc-status 0 without a HealthCheckResponse"),
            ([headers(Self.ok + [("grpc-status", "x")], end: true)], "invalid grpc-status \"x\""),
            ([headers(Self.ok), message([0x08, 1]), headers([("x", "y")], end: true)], "no grpc-status in trailers"),
            ([headers(Self.ok), message([0x08, 1])] + [.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))],
             "response ended without trailers (no grpc-status)"),
            ([headers([(":status", "503")], end: true)], "HTTP status 503"),
            ([headers([("content-type", "application/grpc")])], "response without :status"),
            ([message([0x08, 1])], "DATA before response headers"),
            ([headers(Self.ok), message([0x08, 1]), message([0x08, 1])], "more than one response message"),
            ([headers(Self.ok), message([0x0B])], "malformed response: protobuf wire type 3 not allowed"),
            ([headers(Self.ok), .data(.init(data: .byteBuffer(ByteBuffer(bytes: [0, 0, 0, 0, 9, 0x08]))))] + [headers([("grpc-status", "0")], end: true)],
             "malformed response: truncated gRPC message"),
            ([headers(Self.ok), .data(.init(data: .byteBuffer(ByteBuffer(bytes: [0, 0, 2, 0, 0]))))],
             "malformed response: gRPC message of 131072 bytes exceeds 65536"),
            ([headers(Self.ok), headers(Self.ok)], "second header block without END_STREAM"),
            ([.rstStream(.refusedStream)], "stream reset (REFUSED_STREAM)"),
        ]
        for (frames, reason) in cases {
            let (_, v) = try run(frames)
            #expect(v == [.unhealthy(reason)], "expected \(reason)")
        }
    }

    @Test func goAwayAndClosedConnectionsAreFailures() throws {
        let verdicts = Verdicts()
        let fields = try #require(GRPCHealthProbeHandler.requestFields(authority: "a:1"))
        let channel = EmbeddedChannel(handler: GRPCHealthProbeHandler(fields: fields, service: "") { verdicts.list.append($0) })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .rootStream, errorCode: .noError, opaqueData: nil)))
        _ = try? channel.finish()
        #expect(verdicts.list == [.unhealthy("GOAWAY (NO_ERROR)")])

        let closed = Verdicts()
        let channel2 = EmbeddedChannel(handler: GRPCHealthProbeHandler(fields: fields, service: "") { closed.list.append($0) })
        try channel2.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try? channel2.finish()
        #expect(closed.list == [.unhealthy("connection closed before a verdict")])
    }

    @Test func authorityMustBeAFieldValue() {
        #expect(GRPCHealthProbeHandler.requestFields(authority: "a.b:1") != nil)
        #expect(GRPCHealthProbeHandler.requestFields(authority: "") == nil)
        #expect(GRPCHealthProbeHandler.requestFields(authority: "a\r\nx: y") == nil)
        #expect(GRPCHealthProbeHandler.requestFields(authority: "a b") == nil)
    }
}
