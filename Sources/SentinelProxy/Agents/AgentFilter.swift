import NIOCore
import SentinelAgentProtocol
import Synchronization

/// Consecutive `agent` filters of a route, as one step of its chain: the request headers go to
/// every member subscribed to them at once, and the answers are merged in filter order
/// (`AgentVerdicts`) once every call has ended. Each member's failure mode is already resolved
/// (filter, then route, then agent): the step answers 503/504 itself or skips the agent, and
/// never reports `.failed` to the chain.
public struct AgentRequestStep: RequestFilter {
    public struct Member: Sendable {
        public let filterID: String
        public let agent: AgentHandle
        public let failureMode: AgentSettings.FailureMode
        /// Where the failure mode comes from (`filter`, `route` or `agent`), named in the failure's log line.
        public let failureModeOrigin: String
        /// The filter's `timeout-ms`, else the agent's.
        public let timeout: Duration

        public init(filterID: String, agent: AgentHandle, failureMode: AgentSettings.FailureMode, origin: String = "agent", timeout: Duration?) {
            self.filterID = filterID
            self.agent = agent
            self.failureMode = failureMode
            failureModeOrigin = origin
            self.timeout = timeout ?? agent.settings.timeout
        }
    }

    let members: [Member]
    let verdictMembers: [AgentVerdicts.Member]
    let subscribed: Bool

    public init(members: [Member]) {
        self.members = members
        verdictMembers = members.map { AgentVerdicts.Member(filterID: $0.filterID, agentID: $0.agent.agentID, failureMode: $0.failureMode, origin: $0.failureModeOrigin) }
        subscribed = members.contains { $0.agent.settings.events.contains(.requestHeaders) }
    }

    var mayWait: Bool { true }

    func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
        guard subscribed, let waker = request.waker else { return .next }
        let payload = AgentEvents.requestHeaders(request)
        let group = AgentCallGroup(members: verdictMembers, waker: waker, routeID: request.routeID)
        var calls: [(Int, AgentPool, AgentPool.Ticket)] = []
        for (i, m) in members.enumerated() {
            guard m.agent.settings.events.contains(.requestHeaders) else {
                group.record(i, .skipped)
                continue
            }
            guard let pool = m.agent.pool else {
                group.record(i, .failure(.unavailable))
                continue
            }
            calls.append((i, pool, pool.call(.requestHeaders, correlationID: request.traceID, payload: payload, timeout: m.timeout, on: pool.loop)))
        }
        group.started(calls.map { ($0.1, $0.2.id) })
        for (i, _, ticket) in calls {
            ticket.outcome.whenSuccess { outcome in
                switch outcome {
                case .response(let r): group.record(i, .response(r))
                case .failure(let f): group.record(i, .failure(f))
                }
            }
        }
        return .wait(group)
    }
}

/// The calls of one step for one request: collects the outcomes (on the agents' loop, where
/// they complete; the waker hops to the connection's loop), and when the last one is in, wakes
/// the request with the merged verdict. Cancelling sends Cancel for every call still in flight.
final class AgentCallGroup: PendingFilter, @unchecked Sendable {
    private struct State {
        var results: [AgentVerdicts.Result?]
        var calls: [(pool: AgentPool, id: UInt64)] = []
        var done = false
    }

    private let members: [AgentVerdicts.Member]
    private let waker: FilterWaker
    private let routeID: String
    private let state: Mutex<State>

    init(members: [AgentVerdicts.Member], waker: FilterWaker, routeID: String) {
        self.members = members
        self.waker = waker
        self.routeID = routeID
        state = Mutex(State(results: Array(repeating: nil, count: members.count)))
    }

    func started(_ calls: [(AgentPool, UInt64)]) {
        state.withLock { $0.calls = calls.map { (pool: $0.0, id: $0.1) } }
        complete()
    }

    func record(_ i: Int, _ result: AgentVerdicts.Result) {
        state.withLock { $0.results[i] = result }
        complete()
    }

    private func complete() {
        let results = state.withLock { s -> [AgentVerdicts.Result]? in
            guard !s.done, s.results.allSatisfy({ $0 != nil }) else { return nil }
            s.done = true
            return s.results.map { $0! }
        }
        guard let results else { return }
        waker.resume(AgentVerdicts.merge(members, results, routeID: routeID))
    }

    func cancel(_ reason: FilterCancelReason) {
        let calls = state.withLock { s -> [(pool: AgentPool, id: UInt64)] in
            s.done = true
            return s.calls
        }
        for c in calls { c.pool.cancel(c.id, reason: reason == .clientGone ? .clientDisconnect : .timeout) }
    }
}

extension FilterChain {
    /// The chain entry of a step of agent filters (`id`: their ids, comma-separated). Its
    /// failure modes are applied by the step itself, per agent.
    public static func agentEntry(id: String, _ step: AgentRequestStep) -> Entry {
        Entry(id: id, type: "agent", failureMode: .closed, filter: step)
    }
}
