public import Logging
public import NIOCore
import NIOPosix
import Synchronization

/// Every agent's pool, by id, for the life of the process: a reload keeps the pool of an agent
/// whose socket is unchanged (its calls and connections carry on; new call settings apply to
/// new calls; a changed `config` is sent as Configure), opens pools for new agents and closes
/// the pools of removed ones.
///
/// Agent connections run on one event loop of their own (the control side), never on a
/// client connection's loop; a call's outcome hops back to the caller's loop.
public final class AgentRegistry: Sendable {
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    let metrics: AgentMetrics
    private let logger: Logger?
    private let pools = Mutex<[String: AgentPool]>([:])

    /// - Parameter group: where agent connections run; nil makes a one-thread group owned here.
    public init(metrics: AgentMetrics, logger: Logger? = nil, group: (any EventLoopGroup)? = nil) {
        self.metrics = metrics
        self.logger = logger
        if let group {
            self.group = group
            ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            ownsGroup = true
        }
    }

    /// Makes the running pools match `agents` and returns them by id.
    @discardableResult
    public func apply(_ agents: [AgentSettings]) -> [String: AgentPool] {
        let (result, removed) = pools.withLock { current -> ([String: AgentPool], [AgentPool]) in
            var next: [String: AgentPool] = [:]
            for a in agents {
                if let pool = current[a.id], pool.settingsSnapshot.sameConnections(as: a) {
                    if pool.settingsSnapshot != a { pool.update(a) }
                    pool.settingsSnapshot = a
                    next[a.id] = pool
                } else {
                    let pool = AgentPool(settings: a, loop: group.next(), metrics: metrics, logger: logger)
                    pool.settingsSnapshot = a
                    pool.open()
                    next[a.id] = pool
                }
            }
            let removed = current.filter { next[$0.key] !== $0.value }.map(\.value)
            current = next
            return (next, removed)
        }
        for pool in removed { pool.shutdown() }
        metrics.retain(Set(result.keys))
        return result
    }

    public func pool(_ id: String) -> AgentPool? { pools.withLock { $0[id] } }

    /// Closes every pool (and the loop when it is owned here).
    public func shutdown() {
        let all = pools.withLock { p -> [AgentPool] in
            defer { p = [:] }
            return Array(p.values)
        }
        for pool in all { pool.shutdown() }
        if ownsGroup {
            // The pools' last closes run on the loop; shut it down after them.
            let g = group
            g.next().execute { g.shutdownGracefully { _ in } }
        }
    }
}
