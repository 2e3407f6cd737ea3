public import NIOCore
import NIOPosix
public import SentinelAgentProtocol
import Synchronization

/// The test kit's proxy: connects to an agent's socket like Sentinel does, performs the
/// handshake, sends events and waits for the answers (matched by `audit.custom.correlation_id`,
/// as the proxy matches them), sends Ping, Cancel, Configure, or raw bytes.
///
/// ```swift
/// try await AgentTestHarness.withAgent(MyAgent()) { proxy in
///     let answer = try await proxy.requestHeaders(.sample(uri: "/admin"))
///     #expect(answer.decision == .block(status: 403, body: "denied", headers: nil))
/// }
/// ```
public final class FakeProxy: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        case timedOut
        case connectionClosed
        case duplicateCorrelationID(String)
        case handshakeRefused(String?)
    }

    final class State: Sendable {
        struct Inner {
            var handshake: EventLoopPromise<HandshakeResponse>?
            var pending: [String: EventLoopPromise<AgentResponse>] = [:]
            var pongs: [EventLoopPromise<[UInt8]>] = []
            var unsolicited: [AgentFrame] = []
            var handshakeResponse: HandshakeResponse?
            var closed = false
        }
        let inner = Mutex(Inner())

        func failAll(_ error: Failure) {
            let (h, p, q) = inner.withLock { s -> (EventLoopPromise<HandshakeResponse>?, [EventLoopPromise<AgentResponse>], [EventLoopPromise<[UInt8]>]) in
                s.closed = true
                defer { s.handshake = nil; s.pending = [:]; s.pongs = [] }
                return (s.handshake, Array(s.pending.values), s.pongs)
            }
            h?.fail(error)
            p.forEach { $0.fail(error) }
            q.forEach { $0.fail(error) }
        }
    }

    final class Reader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let state: State
        var decoder = AgentFrameDecoder()
        init(state: State) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            buffer.withUnsafeReadableBytes { decoder.feed($0) }
            do {
                while let frame = try decoder.next() { deliver(frame) }
            } catch {
                context.close(promise: nil)
            }
        }

        func deliver(_ frame: AgentFrame) {
            switch frame.type {
            case .handshakeResponse:
                let p = state.inner.withLock { s in defer { s.handshake = nil }; return s.handshake }
                if let r = try? AgentCodec.decode(HandshakeResponse.self, from: frame.payload) { p?.succeed(r) } else {
                    p?.fail(Failure.handshakeRefused("malformed HandshakeResponse"))
                }
            case .agentResponse:
                guard let r = try? AgentCodec.decode(AgentResponse.self, from: frame.payload), let cid = r.correlationID,
                      let p = state.inner.withLock({ $0.pending.removeValue(forKey: cid) }) else {
                    state.inner.withLock { $0.unsolicited.append(frame) }
                    return
                }
                p.succeed(r)
            case .pong:
                let p = state.inner.withLock { s in s.pongs.isEmpty ? nil : s.pongs.removeFirst() }
                if let p { p.succeed(frame.payload) } else { state.inner.withLock { $0.unsolicited.append(frame) } }
            default:
                state.inner.withLock { $0.unsolicited.append(frame) }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.failAll(.connectionClosed)
            context.fireChannelInactive()
        }
    }

    let channel: any Channel
    let state: State
    let group: MultiThreadedEventLoopGroup
    /// How long `send` waits for an answer.
    public let timeout: TimeAmount
    /// The agent's handshake answer.
    public var handshakeResponse: HandshakeResponse? { state.inner.withLock { $0.handshakeResponse } }

    init(channel: any Channel, state: State, group: MultiThreadedEventLoopGroup, timeout: TimeAmount) {
        self.channel = channel
        self.state = state
        self.group = group
        self.timeout = timeout
    }

    /// Connects and, unless `handshake` is nil, performs the handshake (throws
    /// `handshakeRefused` when the agent says no).
    public static func connect(
        to socketPath: String, handshake: HandshakeRequest? = HandshakeRequest(proxyVersion: "test"),
        timeout: TimeAmount = .seconds(10)
    ) async throws -> FakeProxy {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = State()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Reader(state: state)) } }
                .connect(unixDomainSocketPath: socketPath).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let proxy = FakeProxy(channel: channel, state: state, group: group, timeout: timeout)
        if let handshake {
            let promise = channel.eventLoop.makePromise(of: HandshakeResponse.self)
            state.inner.withLock { $0.handshake = promise }
            try await proxy.sendRaw(try AgentFrame(type: .handshakeRequest, payload: AgentCodec.encodeHandshake(handshake)).encoded())
            let response = try await proxy.wait(promise)
            state.inner.withLock { $0.handshakeResponse = response }
            guard response.success else {
                await proxy.close()
                throw Failure.handshakeRefused(response.error)
            }
        }
        return proxy
    }

    /// Sends an event and waits for the answer carrying `correlationID`.
    public func send(_ type: AgentMessageType, _ event: some Encodable, correlationID: String) async throws -> AgentResponse {
        let promise = channel.eventLoop.makePromise(of: AgentResponse.self)
        let duplicate = state.inner.withLock { s -> Bool in
            if s.pending[correlationID] != nil { return true }
            s.pending[correlationID] = promise
            return false
        }
        if duplicate {
            promise.fail(Failure.duplicateCorrelationID(correlationID))
            throw Failure.duplicateCorrelationID(correlationID)
        }
        try await sendRaw(try AgentCodec.frame(type, event).encoded())
        return try await wait(promise) { [state] in _ = state.inner.withLock { $0.pending.removeValue(forKey: correlationID) } }
    }

    public func requestHeaders(_ e: RequestHeadersEvent) async throws -> AgentResponse {
        try await send(.requestHeaders, e, correlationID: e.metadata.correlationID)
    }
    public func requestBodyChunk(_ e: RequestBodyChunkEvent) async throws -> AgentResponse {
        try await send(.requestBodyChunk, e, correlationID: e.chunk.correlationID)
    }
    public func responseHeaders(_ e: ResponseHeadersEvent) async throws -> AgentResponse {
        try await send(.responseHeaders, e, correlationID: e.correlationID)
    }
    public func responseBodyChunk(_ e: ResponseBodyChunkEvent) async throws -> AgentResponse {
        try await send(.responseBodyChunk, e, correlationID: e.chunk.correlationID)
    }
    public func requestComplete(_ e: RequestCompleteEvent) async throws -> AgentResponse {
        try await send(.requestComplete, e, correlationID: e.correlationID)
    }
    public func webSocketFrame(_ e: WebSocketFrameEvent) async throws -> AgentResponse {
        try await send(.webSocketFrame, e, correlationID: e.correlationID)
    }
    public func guardrailInspect(_ e: GuardrailInspectEvent) async throws -> AgentResponse {
        try await send(.guardrailInspect, e, correlationID: e.correlationID)
    }

    /// Sends Configure (correlation id `configure-<n>`); allow = accepted.
    public func configure(_ config: AgentJSON, version: String? = nil, correlationID: String = "configure") async throws -> AgentResponse {
        try await send(.configure, ConfigureEvent(correlationID: correlationID, config: config, configVersion: version),
                       correlationID: correlationID)
    }

    /// Sends Ping and returns the Pong's payload bytes.
    public func ping(sequence: UInt64 = 1) async throws -> [UInt8] {
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        state.inner.withLock { $0.pongs.append(promise) }
        try await sendRaw(try AgentCodec.frame(.ping, PingMessage(sequence: sequence, timestampMs: 0)).encoded())
        return try await wait(promise)
    }

    /// Sends Cancel for `correlationID` (no answer is expected).
    public func cancel(_ correlationID: String, reason: CancelReason = .clientDisconnect) async throws {
        try await sendRaw(try AgentCodec.frame(.cancel, CancelMessage(correlationID: correlationID, reason: reason, timestampMs: 0)).encoded())
    }

    /// Writes bytes as they are (for malformed-frame tests).
    public func sendRaw(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    /// Frames that answered nothing pending (unknown correlation ids, unexpected types).
    public var unsolicited: [AgentFrame] { state.inner.withLock { $0.unsolicited } }

    /// Whether the agent closed the connection (or it failed).
    public var isClosed: Bool { state.inner.withLock { $0.closed } }

    /// Waits until the agent closes the connection (up to `timeout`); true if it did.
    public func waitUntilClosed() async -> Bool {
        let closed = channel.eventLoop.makePromise(of: Void.self)
        channel.closeFuture.cascade(to: closed)
        return (try? await wait(closed)) != nil
    }

    public func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    func wait<T: Sendable>(_ promise: EventLoopPromise<T>, onTimeout: @escaping @Sendable () -> Void = {}) async throws -> T {
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            onTimeout()
            promise.fail(Failure.timedOut)
        }
        defer { timer.cancel() }
        return try await promise.futureResult.get()
    }
}
