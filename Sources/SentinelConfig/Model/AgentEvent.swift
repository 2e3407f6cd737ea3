/// An event an agent subscribes to with `events …`. Only subscribed agents are called.
public enum AgentEvent: String, Sendable, Hashable, CaseIterable {
    /// Request line and headers (the default subscription).
    case requestHeaders = "request_headers"
    /// Request body chunks.
    case requestBody = "request_body"
    /// Response status and headers.
    case responseHeaders = "response_headers"
    /// Response body chunks.
    case responseBody = "response_body"
    /// The completed exchange, for logging (alias `request_complete`).
    case log
    /// WebSocket frames on routes with `websocket-inspection #true`.
    case websocketFrame = "websocket_frame"
    /// Inference guardrail checks (prompt injection, PII).
    case guardrail

    /// Hyphen and underscore spellings are both accepted (the reader normalises `_` to `-`).
    static let options: [(String, AgentEvent)] = [
        ("request-headers", .requestHeaders), ("request-body", .requestBody),
        ("response-headers", .responseHeaders), ("response-body", .responseBody),
        ("log", .log), ("request-complete", .log),
        ("websocket-frame", .websocketFrame), ("guardrail", .guardrail),
    ]
}
