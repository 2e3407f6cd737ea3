import Foundation
public import NIOCore
import NIOPosix
public import SentinelAgentProtocol
import Synchronization

/// A scriptable agent on a real Unix socket, for tests of the proxy's agent client: it answers
/// the handshake as told, records every frame it receives, and answers each event with what the
/// script returns (decisions, delays, silence, a closed connection, raw bytes).
public final class FakeAgent: Sendable {
    public enum Handshake: Sendable {
        case accept
        /// `success: false` with this error, then the connection is closed.
        case reject(String)
        /// Never answers the handshake.
        case silent
        /// Answers with these raw bytes instead of a HandshakeResponse frame.
        case raw([UInt8])
    }

    public enum Reply: Sendable {
        /// This response with `audit.custom.correlation_id` set to the event's id.
        case respond(AgentResponse)
        /// The same, after a delay.
        case respondAfter(TimeAmount, AgentResponse)
        /// This response exactly as given (its own correlation id, or none).
        case respondAsIs(AgentResponse)
        /// No answer at all.
        case silent
        /// Closes the connection.
        case close
        /// Writes these bytes (frames or garbage).
        case raw([UInt8])
    }

    /// One frame the agent received.
    public struct Received: Sendable {
        public let type: AgentMessageType
        public let payload: [UInt8]
        /// The event's correlation id (the metadata's for RequestHeaders, as agents built on the
        /// original's crate read it).
        public let correlationID: String
        public var json: AgentJSON? { try? AgentCodec.decode(AgentJSON.self, from: payload) }
        public var text: String { String(decoding: payload, as: UTF8.self) }
    }

    public typealias Script = @Sendable (_ frame: Received) -> [Reply]

    public let path: String
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let state = Mutex<State>(State())
    private let stopped = Atomic<Bool>(false)
    private let handshake: Handshake
    private let script: Script

    private struct State {
        var received: [Received] = []
        var connections = 0
        var waiters: [(predicate: @Sendable ([Received]) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []
        var children: [any Channel] = []
    }

    /// Listens on `path` (a fresh socket path in a temporary directory when nil).
    public init(path: String? = nil, handshake: Handshake = .accept, script: @escaping Script = { _ in [.respond(AgentResponse())] }) throws {
        let socketPath = path ?? FakeAgent.temporarySocketPath()
        unlink(socketPath)
        self.path = socketPath
        self.handshake = handshake
        self.script = script
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = Unchecked<FakeAgent?>(nil)
        let bootstrap = ServerBootstrap(group: group)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    guard let agent = box.value else { return }
                    agent.state.withLock { $0.connections += 1; $0.children.append(child) }
                    try child.pipeline.syncOperations.addHandler(FakeAgentHandler(agent: agent))
                }
            }
        channel = try bootstrap.bind(unixDomainSocketPath: socketPath).wait()
        box.value = self
    }

    /// A socket path that does not exist yet.
    public static func temporarySocketPath() -> String {
        let dir = FileManager.default.temporaryDirectory.path
        return "\(dir)/sentinel-agent-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    /// Every frame received so far, in order.
    public var received: [Received] { state.withLock { $0.received } }
    /// Events received (handshakes excluded).
    public var events: [Received] { received.filter { $0.type != .handshakeRequest } }
    /// Connections accepted so far.
    public var connections: Int { state.withLock { $0.connections } }

    /// Waits until the received frames satisfy `predicate` (or `seconds` pass).
    public func waitUntil(seconds: Double = 10, _ predicate: @escaping @Sendable ([Received]) -> Bool) async -> Bool {
        await withTaskGroup(of: Bool.self) { g in
            g.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let done = self.state.withLock { s -> Bool in
                        if predicate(s.received) { return true }
                        s.waiters.append((predicate, c))
                        return false
                    }
                    if done { c.resume() }
                }
                return true
            }
            g.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return false
            }
            let first = await g.next()!
            if !first { self.releaseWaiters() }
            g.cancelAll()
            return first
        }
    }

    private func releaseWaiters() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            defer { s.waiters = [] }
            return s.waiters.map(\.continuation)
        }
        for w in waiters { w.resume() }
    }

    /// Closes every accepted connection (the listener stays).
    public func dropConnections() {
        let children = state.withLock { s -> [any Channel] in
            defer { s.children = [] }
            return s.children
        }
        for c in children { try? c.close().wait() }
    }

    /// Stops listening, closes every connection and removes the socket (once; later calls do nothing).
    public func stop() {
        guard stopped.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        try? channel.close().wait()
        dropConnections()
        releaseWaiters()
        try? group.syncShutdownGracefully()
        unlink(path)
    }

    fileprivate func record(_ r: Received) -> [Reply] {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.received.append(r)
            var out: [CheckedContinuation<Void, Never>] = []
            s.waiters.removeAll { w in
                guard w.predicate(s.received) else { return false }
                out.append(w.continuation)
                return true
            }
            return out
        }
        for c in ready { c.resume() }
        if r.type == .handshakeRequest { return [] }
        if r.type == .ping { return [.raw((try? AgentFrame(type: .pong, payload: r.payload).encoded()) ?? [])] }
        if r.type == .cancel { return [] }
        return script(r)
    }

    fileprivate var handshakeMode: Handshake { handshake }

    /// The HandshakeResponse an accepting agent sends.
    public static func acceptingHandshake(agentID: String = "fake") -> HandshakeResponse {
        HandshakeResponse(capabilities: AgentCapabilities(agentID: agentID, name: "Fake", version: "1.0.0", supportedEvents: [1, 2, 3, 4, 5, 6, 8]))
    }
}

final class Unchecked<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

private final class FakeAgentHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let agent: FakeAgent
    var decoder = AgentFrameDecoder()
    var handshaken = false

    init(agent: FakeAgent) { self.agent = agent }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { decoder.feed($0) }
        while let frame = try? decoder.next() { handle(frame, context) }
    }

    private func handle(_ frame: AgentFrame, _ context: ChannelHandlerContext) {
        let json = try? AgentCodec.decode(AgentJSON.self, from: frame.payload)
        let cid = (frame.type == .requestHeaders ? json?["metadata"]?["correlation_id"]?.stringValue : nil)
            ?? json?["correlation_id"]?.stringValue ?? ""
        let replies = agent.record(FakeAgent.Received(type: frame.type, payload: frame.payload, correlationID: cid))
        if frame.type == .handshakeRequest, !handshaken {
            handshaken = true
            switch agent.handshakeMode {
            case .accept:
                send(.handshakeResponse, try! AgentCodec.encode(FakeAgent.acceptingHandshake()), context)
            case .reject(let error):
                var h = FakeAgent.acceptingHandshake()
                h.success = false
                h.error = error
                send(.handshakeResponse, try! AgentCodec.encode(h), context)
                context.close(promise: nil)
            case .silent:
                break
            case .raw(let bytes):
                write(bytes, context)
            }
            return
        }
        for reply in replies { perform(reply, cid: cid, context) }
    }

    private func perform(_ reply: FakeAgent.Reply, cid: String, _ context: ChannelHandlerContext) {
        switch reply {
        case .respond(var r):
            r.setCorrelationID(cid)
            send(.agentResponse, try! AgentCodec.encode(r), context)
        case .respondAfter(let delay, var r):
            r.setCorrelationID(cid)
            let payload = try! AgentCodec.encode(r)
            let channel = context.channel
            context.eventLoop.scheduleTask(in: delay) {
                var b = channel.allocator.buffer(capacity: payload.count + 5)
                b.writeBytes(try! AgentFrame(type: .agentResponse, payload: payload).encoded())
                channel.writeAndFlush(b, promise: nil)
            }
        case .respondAsIs(let r):
            send(.agentResponse, try! AgentCodec.encode(r), context)
        case .silent:
            break
        case .close:
            context.close(promise: nil)
        case .raw(let bytes):
            write(bytes, context)
        }
    }

    private func send(_ type: AgentMessageType, _ payload: [UInt8], _ context: ChannelHandlerContext) {
        write(try! AgentFrame(type: type, payload: payload).encoded(), context)
    }

    private func write(_ bytes: [UInt8], _ context: ChannelHandlerContext) {
        var b = context.channel.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        context.writeAndFlush(NIOAny(b), promise: nil)
    }
}
