import Logging
public import NIOCore
import NIOPosix
import SentinelAgentProtocol

/// Connecting, the handshake (and Configure), frames from the agent, losing a connection and
/// reconnecting with backoff, forever, until the pool is shut down.
extension AgentPool {
    /// The proxy's name and version in every HandshakeRequest.
    static let proxyID = "sentinel-proxy"
    static let proxyVersion = "0.1.0"

    /// Opens the agent's connections (one after another is not needed: each slot on its own).
    func open() {
        loop.execute { [self] in
            slots = Array(repeating: AgentSlot(), count: max(1, settings.connections))
            for i in slots.indices { connect(slot: i) }
        }
    }

    /// Completes once `count` connections are ready; fails after `within` (tests, startup checks).
    public func whenReady(connections count: Int = 1, within: TimeAmount = .seconds(10)) -> EventLoopFuture<Void> {
        loop.submit { [self] () -> EventLoopFuture<Void> in
            if readyCount >= count { return loop.makeSucceededVoidFuture() }
            let p = loop.makePromise(of: Void.self)
            readyWaiters.append((count, p))
            loop.scheduleTask(in: within) { [self] in
                let before = readyWaiters.count
                readyWaiters.removeAll { $0.promise.futureResult === p.futureResult }
                if readyWaiters.count < before { p.fail(ChannelError.connectTimeout(within)) }
            }
            return p.futureResult
        }.flatMap { $0 }
    }

    /// Connections past their handshake (and Configure) right now.
    public var readyConnections: EventLoopFuture<Int> { loop.submit { [self] in readyCount } }

    var readyCount: Int { slots.filter { $0.phase == .ready }.count }

    /// Closes every connection and fails every call; the pool is not used again.
    func shutdown() {
        loop.execute { [self] in
            shutDown = true
            for id in Array(calls.keys) { finish(id, .failure(.unavailable)) }
            for i in slots.indices {
                slots[i].reconnectTask?.cancel()
                slots[i].deadlineTask?.cancel()
                slots[i].generation &+= 1
                slots[i].channel?.close(promise: nil)
                slots[i].channel = nil
                slots[i].phase = .idle
            }
            for w in readyWaiters { w.promise.fail(ChannelError.ioOnClosedChannel) }
            readyWaiters = []
            metrics.ready(agent: id, connections: 0)
        }
    }

    /// New call settings for the same connections (a reload). A changed `config` is sent to
    /// every ready connection as Configure.
    func update(_ next: AgentSettings) {
        loop.execute { [self] in
            let configChanged = next.config != settings.config
            settings = next
            breaker = .init(configuration: next.breaker)
            metrics.breaker(agent: id, state: 0)
            guard configChanged, let config = next.config else { return }
            for i in slots.indices where slots[i].phase == .ready {
                sendConfigure(slot: i, config: config)
            }
        }
    }

    // MARK: - One connection

    func connect(slot i: Int) {
        guard !shutDown else { return }
        slots[i].generation &+= 1
        let generation = slots[i].generation
        slots[i].phase = .connecting
        slots[i].attempts += 1
        if slots[i].attempts > 1 { metrics.reconnect(agent: id) }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(settings.connectTimeout.timeAmount)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AgentFrameHandler(
                        onFrame: { [self] frame in received(frame, slot: i, generation: generation) },
                        onClose: { [self] reason in lost(slot: i, generation: generation, reason: reason) }))
                }
            }
        bootstrap.connect(unixDomainSocketPath: settings.socketPath).whenComplete { [self] result in
            guard slots[i].generation == generation, !shutDown else {
                if case .success(let ch) = result { ch.close(promise: nil) }
                return
            }
            switch result {
            case .failure(let error):
                lost(slot: i, generation: generation, reason: "connect failed: \(error)")
            case .success(let channel):
                slots[i].channel = channel
                slots[i].phase = .handshaking
                slots[i].deadlineTask = loop.scheduleTask(in: settings.handshakeTimeout.timeAmount) { [self] in
                    guard slots[i].generation == generation, slots[i].phase == .handshaking || slots[i].phase == .configuring else { return }
                    channel.close(promise: nil)
                    lost(slot: i, generation: generation, reason: "no handshake answer within \(settings.handshakeTimeout)")
                }
                let hello = HandshakeRequest(proxyID: Self.proxyID, proxyVersion: Self.proxyVersion, config: settings.config)
                guard let payload = try? AgentCodec.encodeHandshake(hello) else { return }
                write(channel, .handshakeRequest, payload)
            }
        }
    }

    /// One frame from slot `i`'s connection `generation`.
    func received(_ frame: AgentFrame, slot i: Int, generation: UInt64) {
        guard slots.indices.contains(i), slots[i].generation == generation, let channel = slots[i].channel else { return }
        switch slots[i].phase {
        case .handshaking:
            handshakeAnswered(frame, slot: i, channel: channel)
            return
        case .idle, .connecting:
            return
        case .configuring, .ready:
            break
        }
        switch frame.type {
        case .agentResponse:
            if slots[i].phase == .configuring, let cid = slots[i].configureID {
                configureAnswered(frame.payload, correlationID: cid, slot: i)
            } else if let cid = slots[i].configureID, (try? AgentCodec.decode(AgentResponse.self, from: frame.payload))?.correlationID == cid {
                configureAnswered(frame.payload, correlationID: cid, slot: i)
            } else {
                answered(slot: i, payload: frame.payload)
            }
        case .ping:
            write(channel, .pong, frame.payload)
        case .flowControl:
            if let fc = try? AgentCodec.decode(FlowControlMessage.self, from: frame.payload) {
                if fc.action == FlowControlMessage.pause { slots[i].paused = true }
                if fc.action == FlowControlMessage.resume { slots[i].paused = false; drainQueue() }
            }
        case .healthStatus, .metricsReport, .pong:
            break
        case .configUpdateRequest:
            if let u = try? AgentCodec.decode(ConfigUpdateRequest.self, from: frame.payload) {
                logger?.emit("info", "agent_config_update_request", ["agent": .string(id), "type": .string(u.kind ?? "?")])
            }
        default:
            break   // a known type that makes no sense from an agent: ignored, as the original does
        }
    }

    private func handshakeAnswered(_ frame: AgentFrame, slot i: Int, channel: any Channel) {
        let generation = slots[i].generation
        guard frame.type == .handshakeResponse else {
            return fail(slot: i, generation: generation, channel, "expected HandshakeResponse, got frame type 0x\(String(frame.type.rawValue, radix: 16))")
        }
        let answer: HandshakeResponse
        do {
            answer = try AgentCodec.decode(HandshakeResponse.self, from: frame.payload)
        } catch {
            return fail(slot: i, generation: generation, channel, "invalid HandshakeResponse: \(error)")
        }
        guard answer.success else {
            return fail(slot: i, generation: generation, channel, "handshake rejected: \(answer.error ?? "no reason given")")
        }
        guard answer.encoding == "json" else {
            return fail(slot: i, generation: generation, channel, "the agent chose encoding \"\(answer.encoding)\"; Sentinel offers JSON only")
        }
        if let config = settings.config {
            slots[i].phase = .configuring
            sendConfigure(slot: i, config: config)
        } else {
            becameReady(slot: i)
        }
    }

    func sendConfigure(slot i: Int, config: AgentJSON) {
        guard let channel = slots[i].channel else { return }
        let cid = "sentinel-configure-\(slots[i].generation)-\(i)"
        slots[i].configureID = cid
        guard let payload = try? AgentCodec.encode(ConfigureEvent(correlationID: cid, config: config)) else { return }
        write(channel, .configure, payload)
    }

    private func configureAnswered(_ payload: [UInt8], correlationID: String, slot i: Int) {
        let generation = slots[i].generation
        guard let channel = slots[i].channel else { return }
        guard let answer = try? AgentCodec.decode(AgentResponse.self, from: payload), answer.correlationID == correlationID else {
            if slots[i].phase == .configuring { fail(slot: i, generation: generation, channel, "invalid answer to Configure") }
            return
        }
        slots[i].configureID = nil
        if case .allow = answer.decision {
            if slots[i].phase == .configuring { becameReady(slot: i) }
            return
        }
        // The agent refuses its settings: this connection is not used; retry with backoff.
        fail(slot: i, generation: generation, channel, "the agent rejected its configuration (Configure)")
    }

    private func becameReady(slot i: Int) {
        slots[i].deadlineTask?.cancel()
        slots[i].phase = .ready
        slots[i].delay = .zero
        let ready = readyCount
        metrics.ready(agent: id, connections: ready)
        if ready == 1 { logger?.emit("info", "agent_connected", ["agent": .string(id), "socket": .string(settings.socketPath)]) }
        readyWaiters.removeAll { w in
            guard ready >= w.count else { return false }
            w.promise.succeed(())
            return true
        }
        drainQueue()
    }

    private func fail(slot i: Int, generation: UInt64, _ channel: any Channel, _ reason: String) {
        channel.close(promise: nil)
        lost(slot: i, generation: generation, reason: reason)
    }

    /// Slot `i`'s connection `generation` is gone (or never came): fail its calls now, reconnect later.
    func lost(slot i: Int, generation: UInt64, reason: String) {
        guard slots.indices.contains(i), slots[i].generation == generation, slots[i].phase != .idle else { return }
        let wasReady = slots[i].phase == .ready
        slots[i].deadlineTask?.cancel()
        slots[i].channel?.close(promise: nil)
        slots[i].channel = nil
        slots[i].phase = .idle
        slots[i].paused = false
        slots[i].retiring = false
        slots[i].configureID = nil
        slots[i].owed = [:]
        slots[i].owedTotal = 0
        let carried = Array(slots[i].pending.values)
        slots[i].pending = [:]
        for callID in carried {
            calls[callID]?.slot = nil   // already off this slot
            finish(callID, .failure(.connectionLost))
        }
        metrics.ready(agent: id, connections: readyCount)
        if wasReady || slots[i].delay == .zero {
            logger?.emit("warn", "agent_connection_lost", ["agent": .string(id), "slot": .stringConvertible(i), "reason": .string(reason)])
        }
        guard !shutDown else { return }
        let delay = slots[i].delay == .zero ? settings.reconnectDelay : min(slots[i].delay * 2, settings.maxReconnectDelay)
        slots[i].delay = delay
        slots[i].reconnectTask = loop.scheduleTask(in: delay.timeAmount) { [self] in
            guard slots[i].generation == generation, slots[i].phase == .idle, !shutDown else { return }
            connect(slot: i)
        }
    }

    /// Too many answers owed on slot `i`: stop using it and replace it once its calls are done.
    func retire(slot i: Int) {
        slots[i].retiring = true
        if slots[i].pending.isEmpty, let channel = slots[i].channel {
            fail(slot: i, generation: slots[i].generation, channel, "too many answers owed for ended calls")
        }
    }
}
