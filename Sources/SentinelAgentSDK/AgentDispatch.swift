public import SentinelAgentProtocol

/// Runs one event through a handler and gives the answer frame (0x20) with
/// `audit.custom.correlation_id` set: for RequestHeaders `metadata.correlation_id` (which agents
/// built on the original's crate echo), else the top-level one.
///
/// A payload that does not decode as its event is answered with allow (a WebSocket frame with
/// an allow `websocket_decision`) under the correlation id found in it, as the original's
/// reference agent does; nothing is answered when no id can be found.
public enum AgentDispatch {
    public static func answer(_ type: AgentMessageType, _ payload: [UInt8], handler: some AgentHandler) async -> AgentFrame? {
        var cid: String
        var response: AgentResponse
        do {
            switch type {
            case .requestHeaders: (cid, response) = try await run(payload, handler.requestHeaders)
            case .requestBodyChunk: (cid, response) = try await run(payload, handler.requestBodyChunk)
            case .responseHeaders: (cid, response) = try await run(payload, handler.responseHeaders)
            case .responseBodyChunk: (cid, response) = try await run(payload, handler.responseBodyChunk)
            case .requestComplete: (cid, response) = try await run(payload, handler.requestComplete)
            case .webSocketFrame: (cid, response) = try await run(payload, handler.webSocketFrame)
            case .guardrailInspect: (cid, response) = try await run(payload, handler.guardrailInspect)
            case .configure:
                let e = try AgentCodec.decode(ConfigureEvent.self, from: payload)
                cid = e.correlationID
                do {
                    try await handler.configure(e.config, version: e.configVersion)
                    response = .allow()
                } catch {
                    response = .block(status: 500, body: "Configuration rejected: \(error)")
                }
            default:
                return nil
            }
        } catch {
            cid = AgentConnectionMachine.correlationID(of: payload)
            if cid.isEmpty && type != .configure { return nil }
            response = .allow()
            if type == .webSocketFrame { response.websocketDecision = .allow }
        }
        response.setCorrelationID(cid)
        guard let frame = try? AgentCodec.frame(.agentResponse, response) else {
            // An answer too large to frame: refuse rather than leave the proxy waiting.
            var fallback = AgentResponse.block(status: 500, body: "agent answer too large")
            fallback.setCorrelationID(cid)
            return try? AgentCodec.frame(.agentResponse, fallback)
        }
        return frame
    }

    /// Decodes `payload` as the event `handle` takes and runs it: the event's correlation id and
    /// the handler's answer.
    private static func run<E: AnsweredEvent>(
        _ payload: [UInt8], _ handle: (E) async -> AgentResponse
    ) async throws -> (String, AgentResponse) {
        let event = try AgentCodec.decode(E.self, from: payload)
        return (event.answerCorrelationID, await handle(event))
    }
}

/// An event an agent answers, and the correlation id its answer carries.
protocol AnsweredEvent: Decodable {
    var answerCorrelationID: String { get }
}

extension RequestHeadersEvent: AnsweredEvent { var answerCorrelationID: String { metadata.correlationID } }
extension RequestBodyChunkEvent: AnsweredEvent { var answerCorrelationID: String { chunk.correlationID } }
extension ResponseHeadersEvent: AnsweredEvent { var answerCorrelationID: String { correlationID } }
extension ResponseBodyChunkEvent: AnsweredEvent { var answerCorrelationID: String { chunk.correlationID } }
extension RequestCompleteEvent: AnsweredEvent { var answerCorrelationID: String { correlationID } }
extension WebSocketFrameEvent: AnsweredEvent { var answerCorrelationID: String { correlationID } }
extension GuardrailInspectEvent: AnsweredEvent { var answerCorrelationID: String { correlationID } }
