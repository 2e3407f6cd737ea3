public import SentinelAgentProtocol
public import SentinelPolicy

/// One agent as the data plane uses it: where it listens and how calls to it behave. Built from
/// the configuration's `agents { agent … }` by the snapshot builder; immutable.
public struct AgentSettings: Sendable, Hashable {
    /// Which events an agent is sent (`events …`).
    public enum Event: Sendable, Hashable {
        case requestHeaders, requestBody, responseHeaders, responseBody, requestComplete, webSocketFrame, guardrail
    }

    /// What a failed call means for the request.
    public enum FailureMode: Sendable, Hashable {
        /// Skip the agent.
        case open
        /// Refuse the request (503 error or open breaker, 504 timeout, 413 body over the limit).
        case closed
    }

    /// How a body goes to the agent.
    public enum BodyMode: Sendable, Hashable {
        case buffer
        case stream
        case hybrid(threshold: Int)
    }

    public var id: String
    /// The agent's Unix stream socket.
    public var socketPath: String
    public var events: Set<Event> = [.requestHeaders]
    /// `timeout-ms`: the whole call, from the moment it is made (a queued call's wait included).
    public var timeout: Duration = .milliseconds(1000)
    /// The agent's own `failure-mode` (the last resort of filter → route → agent).
    public var failureMode: FailureMode = .open
    public var breaker = CircuitBreaker.Configuration()
    public var maxRequestBodyBytes = 1 << 20
    public var maxResponseBodyBytes = 1 << 20
    public var requestBodyMode: BodyMode = .buffer
    public var responseBodyMode: BodyMode = .buffer
    public var chunkTimeout: Duration = .milliseconds(5000)
    /// `max-concurrent-calls`: calls in flight at once; more wait in the agent's queue.
    public var maxConcurrentCalls = 100
    /// `limits { max-agent-queue-depth }`: calls waiting beyond `maxConcurrentCalls`; more fail at once.
    public var maxQueueDepth = 100
    /// `config { … }`, sent as Configure after every handshake (and again when it changes).
    public var config: AgentJSON?

    /// Connections kept open to the agent, each with its own handshake.
    public var connections = 4
    /// Calls in flight on one connection.
    public var maxCallsPerConnection = 100
    public var connectTimeout: Duration = .seconds(2)
    /// From the connection to the agent's HandshakeResponse (and its answer to Configure).
    public var handshakeTimeout: Duration = .seconds(5)
    /// Reconnection waits this long after the first failure, doubling up to `maxReconnectDelay`.
    public var reconnectDelay: Duration = .milliseconds(50)
    public var maxReconnectDelay: Duration = .seconds(2)
    /// Answers to timed-out or cancelled calls a connection waits for before it is replaced
    /// (a late answer is recognised and dropped, never taken for another call's).
    public var maxOwedAnswersPerConnection = 1024

    public init(id: String, socketPath: String) {
        self.id = id
        self.socketPath = socketPath
    }

    /// Whether two settings can share one pool of connections (only call behaviour differs).
    func sameConnections(as other: AgentSettings) -> Bool {
        socketPath == other.socketPath && connections == other.connections
    }
}
