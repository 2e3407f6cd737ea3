import NIOCore
import NIOHTTP2
import NIOPosix
import Synchronization

/// A scripted `grpc.health.v1.Health` server on 127.0.0.1, port 0, for the `grpc` health-check tests:
/// h2c with prior knowledge on NIOHTTP2's server side, answering each Check with the current
/// `behavior`, and recording every call. A connection that does not start with the HTTP/2 preface
/// is served as HTTP/1.1 (every request gets `200` with `http1Body`), so one port can be both a
/// proxied target and its own gRPC health endpoint, as a gRPC-gateway backend would be.
final class GRPCHealthServer: Sendable {
    enum Behavior: Sendable {
        /// A normal unary response: headers, one `HealthCheckResponse { status }`, trailers `grpc-status: 0`.
        case status(UInt64)
        /// Trailers-only: `:status 200` with `grpc-status`/`grpc-message` and END_STREAM.
        case trailersOnly(code: Int, message: String)
        /// Only an HTTP status, END_STREAM.
        case httpStatus(Int)
        /// These DATA bytes as the body (framing included), then trailers `grpc-status: 0`.
        case body([UInt8])
        /// Response headers and a DATA frame announcing a message of 64 KiB + 1, with that many bytes.
        case oversizedMessage
        /// RST_STREAM(REFUSED_STREAM) on the call's stream.
        case reset
        /// GOAWAY(ENHANCE_YOUR_CALM) without answering.
        case goAway
        /// Never answers.
        case hang
        /// Answers the HTTP/2 preface with HTTP/1.1 bytes (a malformed HTTP/2 peer).
        case notHTTP2
    }

    struct Call: Sendable {
        var headers: [(String, String)]
        var body: [UInt8]
        /// How the server answered it (nil for a connection that never became a call).
        var answer: Behavior? = nil

        /// The serving status answered, if the answer was a `.status`.
        var servingStatus: UInt64? {
            if case .status(let v) = answer { return v }
            return nil
        }

        func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
    }

    struct State {
        var behavior: Behavior
        var calls: [Call] = []
        var http1Requests = 0
    }

    private let box: StateBox
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    let port: Int

    /// `prepare` adds handlers in front on each accepted connection (a TLS server handler).
    init(_ behavior: Behavior = .status(1), http1Body: String = "", prepare: (@Sendable (any Channel) throws -> Void)? = nil) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = StateBox(behavior: behavior)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try prepare?(channel)
                    try channel.pipeline.syncOperations.addHandler(Sniffer(box: box, http1Body: Array(http1Body.utf8)))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.box = box
        self.group = group
        self.channel = channel
        port = channel.localAddress!.port!
    }

    var behavior: Behavior {
        get { box.state.withLock { $0.behavior } }
        set { box.state.withLock { $0.behavior = newValue } }
    }

    var calls: [Call] { box.state.withLock { $0.calls } }
    var http1Requests: Int { box.state.withLock { $0.http1Requests } }

    func shutdown() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    /// Lets the handlers reach the state (a Mutex cannot be captured by copy).
    final class StateBox: Sendable {
        let state: Mutex<State>
        fileprivate init(behavior: Behavior) { state = Mutex(State(behavior: behavior)) }
    }

    /// Decides per connection: the HTTP/2 preface means gRPC, anything else HTTP/1.1.
    final class Sniffer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        typealias OutboundOut = ByteBuffer

        enum Mode { case undecided, http2, http1, silent }
        let box: StateBox
        let http1Body: [UInt8]
        var mode = Mode.undecided
        var pending: [UInt8] = []

        init(box: StateBox, http1Body: [UInt8]) {
            self.box = box
            self.http1Body = http1Body
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            switch mode {
            case .http2:
                context.fireChannelRead(data)
            case .silent:
                break
            case .http1:
                pending += bytes.readableBytesView
                answerHTTP1(context: context)
            case .undecided:
                pending += bytes.readableBytesView
                guard pending.count >= 3 else { return }
                if pending.starts(with: Array("PRI".utf8)) {
                    if case .notHTTP2 = box.state.withLock({ $0.behavior }) {
                        mode = .silent
                        box.state.withLock { $0.calls.append(Call(headers: [], body: [])) }
                        let reply = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)
                        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
                        return
                    }
                    mode = .http2
                    let sync = context.pipeline.syncOperations
                    try! sync.addHandler(GRPCHandler(box: box), position: .after(self))
                    try! sync.addHandler(NIOHTTP2Handler(mode: .server), position: .after(self))
                    let buffered = context.channel.allocator.buffer(bytes: pending)
                    pending = []
                    context.fireChannelRead(wrapInboundOut(buffered))
                } else {
                    mode = .http1
                    answerHTTP1(context: context)
                }
            }
        }

        /// Every complete request head (no bodies in these tests) gets one response.
        func answerHTTP1(context: ChannelHandlerContext) {
            let end: [UInt8] = [13, 10, 13, 10]
            while let i = (0...max(0, pending.count - 4)).first(where: { pending.count >= 4 && Array(pending[$0..<($0 + 4)]) == end }) {
                pending.removeFirst(i + 4)
                box.state.withLock { $0.http1Requests += 1 }
                let head = Array("HTTP/1.1 200 OK\r\nContent-Length: \(http1Body.count)\r\n\r\n".utf8)
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: head + http1Body)), promise: nil)
            }
        }
    }

    /// Frame-level server of one Check per stream (after the server-side `NIOHTTP2Handler`).
    final class GRPCHandler: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame
        typealias OutboundOut = HTTP2Frame

        let box: StateBox
        var headers: [HTTP2StreamID: [(String, String)]] = [:]
        var bodies: [HTTP2StreamID: [UInt8]] = [:]

        init(box: StateBox) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let id = frame.streamID
            switch frame.payload {
            case .headers(let h):
                headers[id] = h.headers.map { ($0.name, $0.value) }
                if h.endStream { respond(context: context, stream: id) }
            case .data(let d):
                if case .byteBuffer(let b) = d.data { bodies[id, default: []] += b.readableBytesView }
                if d.endStream { respond(context: context, stream: id) }
            default:
                break
            }
        }

        func respond(context: ChannelHandlerContext, stream: HTTP2StreamID) {
            let call = Call(headers: headers.removeValue(forKey: stream) ?? [], body: bodies.removeValue(forKey: stream) ?? [])
            let behavior = box.state.withLock { s -> Behavior in
                var call = call
                call.answer = s.behavior
                s.calls.append(call)
                return s.behavior
            }
            func send(_ payload: HTTP2Frame.FramePayload) {
                context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: payload)), promise: nil)
            }
            let grpcHead: [(String, String)] = [(":status", "200"), ("content-type", "application/grpc")]
            switch behavior {
            case .status(let value):
                var message: [UInt8] = [0x08]
                var v = value
                while v >= 0x80 {
                    message.append(UInt8(truncatingIfNeeded: v) | 0x80)
                    v >>= 7
                }
                message.append(UInt8(v))
                send(.headers(.init(headers: .init(grpcHead))))
                send(.data(.init(data: .byteBuffer(context.channel.allocator.buffer(bytes: [0, 0, 0, 0, UInt8(message.count)] + message)))))
                send(.headers(.init(headers: .init([("grpc-status", "0")]), endStream: true)))
            case .trailersOnly(let code, let text):
                send(.headers(.init(headers: .init(grpcHead + [("grpc-status", String(code)), ("grpc-message", text)]), endStream: true)))
            case .httpStatus(let code):
                send(.headers(.init(headers: .init([(":status", String(code))]), endStream: true)))
            case .body(let bytes):
                send(.headers(.init(headers: .init(grpcHead))))
                send(.data(.init(data: .byteBuffer(context.channel.allocator.buffer(bytes: bytes)))))
                send(.headers(.init(headers: .init([("grpc-status", "0")]), endStream: true)))
            case .oversizedMessage:
                send(.headers(.init(headers: .init(grpcHead))))
                let bytes = [0, 0, 1, 0, 1] + [UInt8](repeating: 0, count: 65_537)
                send(.data(.init(data: .byteBuffer(context.channel.allocator.buffer(bytes: bytes)))))
            case .reset:
                send(.rstStream(.refusedStream))
            case .goAway:
                context.write(
                    wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .rootStream, errorCode: .enhanceYourCalm, opaqueData: nil))),
                    promise: nil)
            case .hang, .notHTTP2:
                break
            }
            context.flush()
        }
    }
}
