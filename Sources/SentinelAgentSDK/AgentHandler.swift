public import SentinelAgentProtocol

/// What an agent does: one async method per event. Every method has a default (allow, or for
/// WebSocket frames an allow `websocket_decision`), so an agent implements only what it needs.
///
/// The server calls these concurrently, also for events on the same connection: keep shared
/// state in actors or locks. The answer's `audit.custom.correlation_id` is filled in by the
/// server (an agent need not set it). A `Task` running an event is cancelled when the proxy
/// sends Cancel for its correlation id; its answer is then not sent.
public protocol AgentHandler: Sendable {
    /// What the handshake answer says about the agent.
    var capabilities: AgentCapabilities { get }

    /// The proxy's handshake; return a reason to refuse the connection (nil accepts). The
    /// request's `config`, when not null, is also handed to `configure` before any event.
    func handshake(_ request: HandshakeRequest) async -> String?

    /// New settings (the agent's `config { }` block). Throw to reject them: the proxy gets a
    /// block 500 "Configuration rejected: <error>" and the agent keeps its previous settings.
    func configure(_ config: AgentJSON, version: String?) async throws

    func requestHeaders(_ event: RequestHeadersEvent) async -> AgentResponse
    func requestBodyChunk(_ event: RequestBodyChunkEvent) async -> AgentResponse
    func responseHeaders(_ event: ResponseHeadersEvent) async -> AgentResponse
    func responseBodyChunk(_ event: ResponseBodyChunkEvent) async -> AgentResponse
    func requestComplete(_ event: RequestCompleteEvent) async -> AgentResponse
    func webSocketFrame(_ event: WebSocketFrameEvent) async -> AgentResponse
    func guardrailInspect(_ event: GuardrailInspectEvent) async -> AgentResponse

    /// The proxy stopped waiting for `message.correlationID` (client gone, timeout, …).
    func cancelled(_ message: CancelMessage) async
}

extension AgentHandler {
    public func handshake(_ request: HandshakeRequest) async -> String? { nil }
    public func configure(_ config: AgentJSON, version: String?) async throws {}
    public func requestHeaders(_ event: RequestHeadersEvent) async -> AgentResponse { .allow() }
    public func requestBodyChunk(_ event: RequestBodyChunkEvent) async -> AgentResponse { .allow() }
    public func responseHeaders(_ event: ResponseHeadersEvent) async -> AgentResponse { .allow() }
    public func responseBodyChunk(_ event: ResponseBodyChunkEvent) async -> AgentResponse { .allow() }
    public func requestComplete(_ event: RequestCompleteEvent) async -> AgentResponse { .allow() }
    public func webSocketFrame(_ event: WebSocketFrameEvent) async -> AgentResponse {
        var r = AgentResponse.allow()
        r.websocketDecision = .allow
        return r
    }
    public func guardrailInspect(_ event: GuardrailInspectEvent) async -> AgentResponse { .allow() }
    public func cancelled(_ message: CancelMessage) async {}
}
