public import SentinelAgentProtocol

/// Why an agent call gave no decision. Each maps to the failure mode's answer: timeout → 504
/// when closed, every other failure → 503 when closed; open skips the agent.
public enum AgentCallFailure: Sendable, Hashable, CustomStringConvertible {
    /// No answer within the call's timeout.
    case timeout
    /// The agent's circuit breaker is open.
    case breakerOpen
    /// No connection to the agent is ready (down, starting, handshake rejected, paused).
    case unavailable
    /// The connection carrying the call failed (EOF, framing error) before the answer.
    case connectionLost
    /// The agent's queue (`max-agent-queue-depth`) is full.
    case queueFull
    /// The agent answered with a payload that is not a valid AgentResponse.
    case invalidResponse
    /// The caller cancelled the call (client gone, request timeout).
    case cancelled

    public var description: String {
        switch self {
        case .timeout: return "timeout"
        case .breakerOpen: return "breaker_open"
        case .unavailable: return "unavailable"
        case .connectionLost: return "connection_lost"
        case .queueFull: return "queue_full"
        case .invalidResponse: return "invalid_response"
        case .cancelled: return "cancelled"
        }
    }
}

/// The end of one agent call.
public enum AgentCallOutcome: Sendable {
    case response(AgentResponse)
    case failure(AgentCallFailure)
}
