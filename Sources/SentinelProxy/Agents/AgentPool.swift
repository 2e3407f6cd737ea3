public import NIOCore
public import SentinelAgentProtocol
import Logging
import SentinelPolicy
import Synchronization

/// The connections to one agent and the calls made on them.
///
/// Everything mutable lives on `loop` (the agents' control loop, not a data-path loop): calls
/// arrive from client connections' loops through `call`, which hops here; answers complete a
/// promise made on the caller's loop, so the caller resumes on its own loop.
///
/// Matching: a call is keyed by a pool-unique id. On the wire an answer names only its
/// correlation id (the request's trace id), so a connection never carries two calls with the
/// same correlation id, and a call that timed out or was cancelled leaves an "owed answer"
/// on its connection: when that late answer arrives it is dropped, and until then no call with
/// the same id goes on that connection. Two requests with the same client-supplied id, or a
/// late answer to a request's earlier event, therefore never cross.
public final class AgentPool: @unchecked Sendable {
    public let id: String
    let loop: any EventLoop
    let metrics: AgentMetrics
    let logger: Logger?
    /// The settings as the registry last applied them (read and written under its lock).
    var settingsSnapshot: AgentSettings
    /// Loop-confined from here on.
    var settings: AgentSettings
    var slots: [AgentSlot] = []
    var breaker: CircuitBreaker
    /// Calls sent and not finished.
    var inFlight = 0
    /// Calls admitted but waiting for a concurrency slot or a free connection, oldest first.
    var queue: [UInt64] = []
    var calls: [UInt64: PendingCall] = [:]
    var roundRobin = 0
    var shutDown = false
    var readyWaiters: [(count: Int, promise: EventLoopPromise<Void>)] = []
    private let nextCallID = Atomic<UInt64>(1)
    let clockStart = NIODeadline.now()

    struct PendingCall {
        let correlationID: String
        let type: AgentMessageType
        let payload: [UInt8]
        let promise: EventLoopPromise<AgentCallOutcome>
        let started: NIODeadline
        var timeoutTask: Scheduled<Void>?
        /// The connection carrying it; nil while queued.
        var slot: Int?
        /// Counted in `inFlight`.
        var dispatched = false
    }

    init(settings: AgentSettings, loop: any EventLoop, metrics: AgentMetrics, logger: Logger?) {
        id = settings.id
        self.settings = settings
        settingsSnapshot = settings
        self.loop = loop
        self.metrics = metrics
        self.logger = logger
        breaker = CircuitBreaker(configuration: settings.breaker)
    }

    /// A handle on a call in flight: its id (for `cancel`) and its outcome.
    public struct Ticket: Sendable {
        public let id: UInt64
        public let outcome: EventLoopFuture<AgentCallOutcome>
    }

    /// Sends one event; the outcome completes on `callerLoop`. `payload` is the event's JSON.
    public func call(_ type: AgentMessageType, correlationID: String, payload: [UInt8], timeout: Duration? = nil,
                     on callerLoop: any EventLoop) -> Ticket {
        let callID = nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        let promise = callerLoop.makePromise(of: AgentCallOutcome.self)
        let started = NIODeadline.now()
        loop.execute { [self] in
            start(callID, PendingCall(correlationID: correlationID, type: type, payload: payload, promise: promise, started: started),
                  timeout: timeout)
        }
        return Ticket(id: callID, outcome: promise.futureResult)
    }

    /// The caller no longer waits for this call (client gone, request timeout): the agent is sent
    /// Cancel when the call was on the wire, and the outcome is `.failure(.cancelled)`.
    public func cancel(_ callID: UInt64, reason: CancelReason) {
        loop.execute { [self] in
            finish(callID, .failure(.cancelled), cancelReason: reason)
        }
    }

    // MARK: - Loop-confined

    private func start(_ callID: UInt64, _ call: PendingCall, timeout: Duration?) {
        metrics.call(agent: id, event: Self.eventLabel(call.type))
        if shutDown {
            call.promise.succeed(.failure(.unavailable))
            metrics.failure(agent: id, reason: .unavailable)
            return
        }
        let admission = breaker.allow(now: now())
        if let t = admission.transition { breakerChanged(t) }
        guard admission.allowed else {
            call.promise.succeed(.failure(.breakerOpen))
            metrics.failure(agent: id, reason: .breakerOpen)
            return
        }
        guard slots.contains(where: \.isReady) else {
            // Nothing to send it on: answer now rather than wait for a reconnect.
            calls[callID] = call
            finish(callID, .failure(.unavailable))
            return
        }
        var call = call
        let limit = timeout ?? settings.timeout
        call.timeoutTask = loop.scheduleTask(deadline: call.started + limit.timeAmount) { [self] in
            finish(callID, .failure(.timeout), cancelReason: .timeout)
        }
        calls[callID] = call
        if inFlight < settings.maxConcurrentCalls, dispatch(callID) { return }
        guard queue.count < settings.maxQueueDepth else {
            finish(callID, .failure(.queueFull))
            return
        }
        queue.append(callID)
    }

    /// Puts a call on a ready connection that carries no call (and owes no answer) with the same
    /// correlation id; false when there is none now.
    @discardableResult
    func dispatch(_ callID: UInt64) -> Bool {
        guard var call = calls[callID] else { return true }
        let n = slots.count
        for k in 0..<n {
            let i = (roundRobin + k) % n
            guard slots[i].canCarry(call.correlationID, limit: settings.maxCallsPerConnection) else { continue }
            roundRobin = (i + 1) % n
            var buffer = slots[i].channel!.allocator.buffer(capacity: AgentFrame.headerSize + call.payload.count)
            buffer.writeInteger(UInt32(call.payload.count + 1))
            buffer.writeInteger(call.type.rawValue)
            buffer.writeBytes(call.payload)
            slots[i].pending[call.correlationID] = callID
            slots[i].channel!.writeAndFlush(buffer, promise: nil)
            call.slot = i
            call.dispatched = true
            inFlight += 1
            calls[callID] = call
            return true
        }
        return false
    }

    /// Ends a call once: completes the caller's promise, frees its slot, records the outcome.
    func finish(_ callID: UInt64, _ outcome: AgentCallOutcome, cancelReason: CancelReason? = nil) {
        guard let call = calls.removeValue(forKey: callID) else { return }
        call.timeoutTask?.cancel()
        if call.dispatched { inFlight -= 1 }
        if let i = call.slot, slots.indices.contains(i), slots[i].pending[call.correlationID] == callID {
            slots[i].pending[call.correlationID] = nil
            if let reason = cancelReason {
                // The answer is still owed: drop it when it comes; tell the agent to stop.
                slots[i].owed[call.correlationID, default: 0] += 1
                slots[i].owedTotal += 1
                sendCancel(slot: i, correlationID: call.correlationID, reason: reason)
                if slots[i].owedTotal > settings.maxOwedAnswersPerConnection { retire(slot: i) }
            }
            if slots[i].retiring, slots[i].pending.isEmpty { retire(slot: i) }
        } else if call.slot == nil {
            queue.removeAll { $0 == callID }
        }
        switch outcome {
        case .response:
            metrics.answered(agent: id, seconds: Double((NIODeadline.now() - call.started).nanoseconds) / 1e9)
            if let t = breaker.recordSuccess() { breakerChanged(t) }
        case .failure(let f):
            metrics.failure(agent: id, reason: f)
            switch f {
            case .cancelled: breaker.cancel()
            case .breakerOpen, .queueFull: break
            default: if let t = breaker.recordFailure(now: now()) { breakerChanged(t) }
            }
        }
        call.promise.succeed(outcome)
        drainQueue()
    }

    /// Sends queued calls that now fit (concurrency slot and a connection free for their id).
    func drainQueue() {
        guard !queue.isEmpty else { return }
        var kept: [UInt64] = []
        for callID in queue {
            if inFlight < settings.maxConcurrentCalls, calls[callID] != nil, dispatch(callID) { continue }
            if calls[callID] != nil { kept.append(callID) }
        }
        queue = kept
    }

    /// An AgentResponse frame from slot `i`.
    func answered(slot i: Int, payload: [UInt8]) {
        let response: AgentResponse
        do {
            response = try AgentCodec.decode(AgentResponse.self, from: payload)
        } catch {
            // Not a valid AgentResponse: fail the call it names, if it names one.
            if let cid = (try? AgentCodec.decode(CorrelationOnly.self, from: payload))?.audit?.custom?.correlationID,
               let callID = slots[i].pending[cid] {
                finish(callID, .failure(.invalidResponse))
            } else {
                metrics.unmatched(agent: id)
            }
            return
        }
        guard let cid = response.correlationID else { metrics.unmatched(agent: id); return }
        if let owed = slots[i].owed[cid] {
            // A late answer to a call that already ended: never another call's answer.
            if owed <= 1 { slots[i].owed[cid] = nil } else { slots[i].owed[cid] = owed - 1 }
            slots[i].owedTotal -= 1
            metrics.unmatched(agent: id)
            if slots[i].retiring, slots[i].pending.isEmpty { slots[i].channel?.close(promise: nil) }
            drainQueue()
            return
        }
        guard let callID = slots[i].pending[cid] else { metrics.unmatched(agent: id); return }
        finish(callID, .response(response))
    }

    private func sendCancel(slot i: Int, correlationID: String, reason: CancelReason) {
        guard let channel = slots[i].channel else { return }
        let millis = UInt64(max(0, AgentClock.unixMillis()))
        guard let payload = try? AgentCodec.encode(CancelMessage(correlationID: correlationID, reason: reason, timestampMs: millis)) else { return }
        write(channel, .cancel, payload)
    }

    func write(_ channel: any Channel, _ type: AgentMessageType, _ payload: [UInt8]) {
        var buffer = channel.allocator.buffer(capacity: AgentFrame.headerSize + payload.count)
        buffer.writeInteger(UInt32(payload.count + 1))
        buffer.writeInteger(type.rawValue)
        buffer.writeBytes(payload)
        channel.writeAndFlush(buffer, promise: nil)
    }

    func now() -> Duration { .nanoseconds((NIODeadline.now() - clockStart).nanoseconds) }

    func breakerChanged(_ t: CircuitBreaker.Transition) {
        metrics.breaker(agent: id, state: t.to == .closed ? 0 : t.to == .open ? 1 : 2)
        logger?.emit(t.to == .open ? "warn" : "info", "agent_breaker", ["agent": .string(id), "from": .string(t.from.rawValue), "to": .string(t.to.rawValue)])
    }

    static func eventLabel(_ type: AgentMessageType) -> String {
        switch type {
        case .requestHeaders: return "request_headers"
        case .requestBodyChunk: return "request_body"
        case .responseHeaders: return "response_headers"
        case .responseBodyChunk: return "response_body"
        case .requestComplete: return "request_complete"
        case .webSocketFrame: return "websocket_frame"
        case .guardrailInspect: return "guardrail"
        case .configure: return "configure"
        default: return "other"
        }
    }
}

/// Just enough of an AgentResponse to learn which call an invalid one answers.
struct CorrelationOnly: Decodable {
    struct Audit: Decodable {
        struct Custom: Decodable {
            let correlationID: String?
            enum CodingKeys: String, CodingKey { case correlationID = "correlation_id" }
        }
        let custom: Custom?
    }
    let audit: Audit?
}
