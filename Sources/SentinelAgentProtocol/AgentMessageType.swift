/// The type byte of an agent protocol v2 frame (the byte after the length prefix).
///
/// Any other byte is a framing error. Directions: 0x01 and 0x10…0x17 and 0x40 go from the proxy
/// to the agent; 0x02, 0x20 and 0x30…0x33 from the agent to the proxy; Ping and Pong either way.
public enum AgentMessageType: UInt8, Sendable, Hashable, CaseIterable {
    case handshakeRequest = 0x01
    case handshakeResponse = 0x02
    case requestHeaders = 0x10
    case requestBodyChunk = 0x11
    case responseHeaders = 0x12
    case responseBodyChunk = 0x13
    case requestComplete = 0x14
    case webSocketFrame = 0x15
    case guardrailInspect = 0x16
    case configure = 0x17
    case agentResponse = 0x20
    case healthStatus = 0x30
    case metricsReport = 0x31
    case configUpdateRequest = 0x32
    case flowControl = 0x33
    case cancel = 0x40
    case ping = 0x41
    case pong = 0x42

    /// True for the events a proxy sends and an agent answers with one AgentResponse.
    public var isEvent: Bool {
        switch self {
        case .requestHeaders, .requestBodyChunk, .responseHeaders, .responseBodyChunk,
             .requestComplete, .webSocketFrame, .guardrailInspect, .configure:
            return true
        default:
            return false
        }
    }
}

/// The integer event codes of the handshake's `capabilities.supported_events` (proto numbering).
/// Agents built on the original's crate send 8 for Configure; its proxy read 0 as Configure:
/// both are accepted here.
public enum AgentEventCode: Int32, Sendable, Hashable, CaseIterable {
    case requestHeaders = 1
    case requestBodyChunk = 2
    case responseHeaders = 3
    case responseBodyChunk = 4
    case requestComplete = 5
    case webSocketFrame = 6
    case guardrailInspect = 7
    case configure = 8

    /// Reads an advertised code; 0 is Configure too; unknown codes are nil (dropped, not an error).
    public init?(code: Int32) {
        if code == 0 { self = .configure; return }
        self.init(rawValue: code)
    }

    /// The frame type that carries this event.
    public var messageType: AgentMessageType {
        switch self {
        case .requestHeaders: return .requestHeaders
        case .requestBodyChunk: return .requestBodyChunk
        case .responseHeaders: return .responseHeaders
        case .responseBodyChunk: return .responseBodyChunk
        case .requestComplete: return .requestComplete
        case .webSocketFrame: return .webSocketFrame
        case .guardrailInspect: return .guardrailInspect
        case .configure: return .configure
        }
    }
}
