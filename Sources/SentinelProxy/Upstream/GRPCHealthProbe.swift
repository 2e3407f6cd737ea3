import NIOCore
import NIOHTTP2

/// One `grpc.health.v1.Health/Check` call over HTTP/2 cleartext with prior knowledge (h2c), or over
/// TLS with ALPN `h2` for an upstream with `tls`, as the `grpc` active health check (§5.7) makes
/// it: one connection, one stream, then the connection closes.
///
/// It sits after a client `NIOHTTP2Handler` (no stream multiplexer: one stream needs none) and works
/// on raw `HTTP2Frame`s. The verdict is healthy only for HTTP `:status` 200, `grpc-status` 0 and a
/// `HealthCheckResponse` saying SERVING; anything else, including a reset stream, a GOAWAY, an HTTP/2
/// protocol error, a closed connection or a response over `GRPCHealthCodec.maxMessageBytes`, is a
/// failure with a reason. The deadline is the health checker's (it closes the channel).
final class GRPCHealthProbeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// The request fields, or nil (with the reason) when `authority` could not be sent as a field value.
    /// `scheme`: "https" on a TLS connection.
    static func requestFields(authority: String, scheme: String = "http") -> [(String, String)]? {
        guard !authority.isEmpty, authority.utf8.count <= 1024, authority.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return nil
        }
        return [
            (":method", "POST"), (":scheme", scheme), (":authority", authority), (":path", GRPCHealthCodec.path),
            ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "sentinel"),
        ]
    }

    /// Settings sent in the connection preface: no server push, small bounded header lists.
    static let settings: HTTP2Settings = [
        HTTP2Setting(parameter: .enablePush, value: 0),
        HTTP2Setting(parameter: .maxConcurrentStreams, value: 1),
        HTTP2Setting(parameter: .maxHeaderListSize, value: 16 * 1024),
        HTTP2Setting(parameter: .initialWindowSize, value: 65_535),
    ]

    private let fields: [(String, String)]
    private let body: [UInt8]
    private let done: (ProbeVerdict) -> Void
    private let stream = HTTP2StreamID(1)
    private var finished = false
    private var status: Int?
    private var reader = GRPCHealthCodec.MessageReader()
    private var servingStatus: GRPCHealthCodec.ServingStatus?
    private var messages = 0

    /// - Parameters:
    ///   - fields: from `requestFields(authority:)`.
    ///   - done: called exactly once, on the channel's loop.
    init(fields: [(String, String)], service: String, done: @escaping (ProbeVerdict) -> Void) {
        self.fields = fields
        body = GRPCHealthCodec.frame(GRPCHealthCodec.encodeRequest(service: service))
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        // NIOHTTP2Handler, before this handler, has written the preface and SETTINGS on its channelActive.
        let head = HTTP2Frame(streamID: stream, payload: .headers(.init(headers: .init(fields), endStream: false)))
        let data = HTTP2Frame(
            streamID: stream, payload: .data(.init(data: .byteBuffer(context.channel.allocator.buffer(bytes: body)), endStream: true)))
        context.write(wrapOutboundOut(head), promise: nil)
        context.writeAndFlush(wrapOutboundOut(data), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .goAway(_, let code, _):
            // A graceful GOAWAY with our stream still in its range would let it finish, but a probe
            // that races a server shutting down is not a healthy answer either.
            complete(.unhealthy("GOAWAY (\(Self.name(code)))"))
        case .rstStream(let code) where frame.streamID == stream:
            complete(.unhealthy("stream reset (\(Self.name(code)))"))
        case .headers(let h) where frame.streamID == stream:
            headers(h.headers.map { ($0.name, $0.value) }, endStream: h.endStream)
        case .data(let d) where frame.streamID == stream:
            guard status != nil else { return complete(.unhealthy("DATA before response headers")) }
            guard case .byteBuffer(let buffer) = d.data else { return complete(.unhealthy("unexpected DATA payload")) }
            do {
                try reader.append(buffer.readableBytesView)
                while let message = try reader.next() {
                    messages += 1
                    guard messages == 1 else { return complete(.unhealthy("more than one response message")) }
                    servingStatus = try GRPCHealthCodec.decodeResponse(message)
                }
            } catch {
                return complete(.unhealthy("malformed response: \(error)"))
            }
            if d.endStream { complete(.unhealthy("response ended without trailers (no grpc-status)")) }
        default:
            break
        }
    }

    /// Response headers, then (if the stream goes on) trailers.
    private func headers(_ list: [(String, String)], endStream: Bool) {
        if status == nil {
            guard let code = list.first(where: { $0.0 == ":status" }).flatMap({ Int($0.1) }) else {
                return complete(.unhealthy("response without :status"))
            }
            if (100..<200).contains(code) { return }  // an interim response: the real one follows
            status = code
            guard code == 200 else { return complete(.unhealthy("HTTP status \(code)")) }
            // Trailers-only: the status fields come with the headers.
            if endStream { trailers(list) }
            return
        }
        guard endStream else { return complete(.unhealthy("second header block without END_STREAM")) }
        trailers(list)
    }

    private func trailers(_ list: [(String, String)]) {
        guard let text = list.first(where: { $0.0 == "grpc-status" })?.1 else {
            return complete(.unhealthy("no grpc-status in trailers"))
        }
        guard let code = Int(text), code >= 0 else { return complete(.unhealthy("invalid grpc-status \"\(Self.clip(text))\"")) }
        guard code == 0 else {
            var reason = "grpc-status \(code) \(GRPCHealthCodec.statusName(code))"
            if let message = list.first(where: { $0.0 == "grpc-message" })?.1, !message.isEmpty {
                reason += ": \(Self.clip(message))"
            }
            return complete(.unhealthy(reason))
        }
        if reader.pendingBytes > 0 { return complete(.unhealthy("malformed response: truncated gRPC message")) }
        guard let servingStatus else { return complete(.unhealthy("grpc-status 0 without a HealthCheckResponse")) }
        complete(servingStatus == .serving ? .healthy : .unhealthy("health status \(servingStatus)"))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? StreamClosedEvent, closed.streamID == stream, !finished {
            complete(.unhealthy(closed.reason.map { "stream closed (\(Self.name($0)))" } ?? "stream closed before a verdict"))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        complete(.unhealthy("HTTP/2 error: \(Self.clip(String(describing: error)))"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(.unhealthy("connection closed before a verdict"))
        context.fireChannelInactive()
    }

    private func complete(_ verdict: ProbeVerdict) {
        guard !finished else { return }
        finished = true
        done(verdict)
    }

    /// The RFC 9113 name of an HTTP/2 error code.
    static func name(_ code: HTTP2ErrorCode) -> String {
        let names = [
            "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
            "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
        ]
        return names.indices.contains(code.networkCode) ? names[code.networkCode] : "error code \(code.networkCode)"
    }

    /// A peer-chosen text cut to a loggable size, printable ASCII only.
    static func clip(_ s: String) -> String {
        let printable = s.unicodeScalars.prefix(200).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" }
        return String(printable)
    }
}
