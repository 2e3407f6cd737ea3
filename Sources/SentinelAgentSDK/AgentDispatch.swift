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
            case .requestHeaders:
                let e = try AgentCodec.decode(RequestHeadersEvent.self, from: payload)
                cid = e.metadata.correlationID
                response = await handler.requestHeaders(e)
            case .requestBodyChunk:
                let e = try AgentCodec.decode(RequestBodyChunkEvent.self, from: payload)
                cid = e.chunk.correlationID
                response = await handler.requestBodyChunk(e)
            case .responseHeaders:
                let e = try AgentCodec.decode(ResponseHeadersEvent.self, from: payload)
                cid = e.correlationID
                response = await handler.responseHeaders(e)
            case .responseBodyChunk:
                let e = try AgentCodec.decode(ResponseBodyChunkEvent.self, from: payload)
                cid = e.chunk.correlationID
                response = await handler.responseBodyChunk(e)
            case .requestComplete:
                let e = try AgentCodec.decode(RequestCompleteEvent.self, from: payload)
                cid = e.correlationID
                response = await handler.requestComplete(e)
            case .webSocketFrame:
                let e = try AgentCodec.decode(WebSocketFrameEvent.self, from: payload)
                cid = e.correlationID
                response = await handler.webSocketFrame(e)
            case .guardrailInspect:
                let e = try AgentCodec.decode(GuardrailInspectEvent.self, from: payload)
                cid = e.correlationID
                response = await handler.guardrailInspect(e)
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
}
