import Synchronization

/// An agent as one snapshot's filters see it: its settings (as that snapshot configured them)
/// and the pool that carries its calls, bound by the server when the snapshot is installed.
public final class AgentHandle: Sendable {
    public let settings: AgentSettings
    private let bound = Mutex<AgentPool?>(nil)

    public init(settings: AgentSettings) { self.settings = settings }

    public var agentID: String { settings.id }

    /// Set by the server before the snapshot serves requests (and again on reload).
    func bind(_ pool: AgentPool?) { bound.withLock { $0 = pool } }

    var pool: AgentPool? { bound.withLock { $0 } }
}
