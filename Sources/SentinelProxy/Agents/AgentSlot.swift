import NIOCore

/// One of an agent's connections: its state, the calls it carries by correlation id, and the
/// answers it still owes for calls that already ended.
struct AgentSlot {
    enum Phase: Equatable {
        /// Waiting to (re)connect.
        case idle
        case connecting
        /// HandshakeRequest sent; the first frame back must be the HandshakeResponse.
        case handshaking
        /// Configure sent after the handshake; waiting for the agent's allow.
        case configuring
        case ready
    }

    var phase: Phase = .idle
    /// Bumped on every new connection: events of an older connection are ignored.
    var generation: UInt64 = 0
    var channel: (any Channel)?
    var pending: [String: UInt64] = [:]
    var owed: [String: Int] = [:]
    var owedTotal = 0
    /// The agent asked to pause (FlowControl 1) until it resumes (2).
    var paused = false
    /// Too many owed answers: no new calls; closed when its calls have ended.
    var retiring = false
    var delay: Duration = .zero
    var reconnectTask: Scheduled<Void>?
    var deadlineTask: Scheduled<Void>?
    /// The correlation id of the Configure call in flight.
    var configureID: String?
    /// Connections made on this slot so far.
    var attempts = 0

    var isReady: Bool { phase == .ready && !paused && !retiring }

    func canCarry(_ correlationID: String, limit: Int) -> Bool {
        isReady && pending.count < limit && pending[correlationID] == nil && owed[correlationID] == nil
    }
}
