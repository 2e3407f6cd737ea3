import SentinelAgentProtocol
import SentinelConfig
import SentinelPolicy
import SentinelProxy

/// `agents { agent … }` → the data plane's `AgentSettings`, one handle per agent per snapshot.
enum AgentSettingsBuilder {
    static func handles(_ config: SentinelConfiguration) -> [String: AgentHandle] {
        var out: [String: AgentHandle] = [:]
        for a in config.agents {
            guard case .unixSocket(let path) = a.transport else { continue }   // other transports are refused by the feature gate
            out[a.id] = AgentHandle(settings: settings(a, path: path, limits: config.limits))
        }
        return out
    }

    static func settings(_ a: AgentConfig, path: String, limits: LimitsConfig) -> AgentSettings {
        var s = AgentSettings(id: a.id, socketPath: path)
        s.events = Set(a.events.map(event))
        s.timeout = a.timeout
        s.failureMode = a.failureMode == .open ? .open : .closed
        if let b = a.circuitBreaker {
            s.breaker = CircuitBreaker.Configuration(
                failureThreshold: b.failureThreshold, successThreshold: b.successThreshold, timeout: b.timeout,
                halfOpenMaxRequests: b.halfOpenMaxRequests)
        }
        s.maxRequestBodyBytes = Int(clamping: a.maxRequestBodyBytes)
        s.maxResponseBodyBytes = Int(clamping: a.maxResponseBodyBytes)
        s.requestBodyMode = mode(a.requestBodyMode)
        s.responseBodyMode = mode(a.responseBodyMode)
        s.chunkTimeout = a.chunkTimeout
        s.maxConcurrentCalls = a.maxConcurrentCalls
        s.maxQueueDepth = limits.maxAgentQueueDepth
        s.config = a.config.map(json)
        return s
    }

    static func event(_ e: AgentEvent) -> AgentSettings.Event {
        switch e {
        case .requestHeaders: return .requestHeaders
        case .requestBody: return .requestBody
        case .responseHeaders: return .responseHeaders
        case .responseBody: return .responseBody
        case .log: return .requestComplete
        case .websocketFrame: return .webSocketFrame
        case .guardrail: return .guardrail
        }
    }

    static func mode(_ m: AgentBodyMode) -> AgentSettings.BodyMode {
        switch m {
        case .buffer: return .buffer
        case .stream: return .stream
        case .hybrid(let t): return .hybrid(threshold: Int(clamping: t))
        }
    }

    static func json(_ v: JSONValue) -> AgentJSON {
        switch v {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let text): return .number(Double(text) ?? 0)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map(json))
        case .object(let o): return .object(Dictionary(o.map { ($0.0, json($0.1)) }, uniquingKeysWith: { a, _ in a }))
        }
    }
}
