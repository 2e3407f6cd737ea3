/// Why a call was cancelled; the integer on the UDS wire is 0-based (gRPC uses 1-based).
public enum CancelReason: Int, Sendable, Hashable, Codable {
    case clientDisconnect = 0
    case timeout = 1
    case blockedByAgent = 2
    case upstreamError = 3
    case proxyShutdown = 4
    case manual = 5
}

/// 0x40: the proxy no longer waits for an answer to this correlation id. Not answered.
public struct CancelMessage: Sendable, Hashable, Codable {
    public var correlationID: String
    public var reason: CancelReason
    public var timestampMs: UInt64

    public init(correlationID: String, reason: CancelReason, timestampMs: UInt64) {
        self.correlationID = correlationID
        self.reason = reason
        self.timestampMs = timestampMs
    }

    enum CodingKeys: String, CodingKey { case correlationID = "correlation_id", reason, timestampMs = "timestamp_ms" }
}

/// 0x41 Ping and 0x42 Pong: `{"sequence","timestamp_ms"}`. A Pong echoes the Ping's payload
/// bytes as received.
public struct PingMessage: Sendable, Hashable, Codable {
    public var sequence: UInt64
    public var timestampMs: UInt64

    public init(sequence: UInt64, timestampMs: UInt64) {
        self.sequence = sequence
        self.timestampMs = timestampMs
    }

    enum CodingKeys: String, CodingKey { case sequence, timestampMs = "timestamp_ms" }
}

/// 0x30: the agent's health, `{"state": n}` (1 healthy, 2 degraded, 3 draining, 4 unhealthy).
public struct HealthStatusMessage: Sendable, Hashable, Codable {
    public var state: Int
    public init(state: Int) { self.state = state }
}

/// 0x33: `{"action": 1}` asks the proxy to pause new calls, `2` to resume.
public struct FlowControlMessage: Sendable, Hashable, Codable {
    public static let pause = 1
    public static let resume = 2
    public var action: Int
    public init(action: Int) { self.action = action }
}

/// 0x32: an agent asks for something (`update_type.type`: `request_reload`, `rule_update`,
/// `list_update`, `restart_required`, `config_error`). The proxy logs it; there is no reply frame.
public struct ConfigUpdateRequest: Sendable, Hashable, Codable {
    public var updateType: AgentJSON
    public var requestID: String
    public var timestampMs: UInt64

    public init(updateType: AgentJSON, requestID: String, timestampMs: UInt64) {
        self.updateType = updateType
        self.requestID = requestID
        self.timestampMs = timestampMs
    }

    /// `update_type.type`.
    public var kind: String? { updateType["type"]?.stringValue }

    enum CodingKeys: String, CodingKey { case updateType = "update_type", requestID = "request_id", timestampMs = "timestamp_ms" }
}

/// 0x31: metrics an agent exports (counters, gauges, histograms kept as JSON).
public struct MetricsReport: Sendable, Hashable, Codable {
    public var agentID: String
    public var timestampMs: UInt64
    public var intervalMs: UInt64
    public var counters: [AgentJSON]
    public var gauges: [AgentJSON]
    public var histograms: [AgentJSON]

    public init(agentID: String, timestampMs: UInt64, intervalMs: UInt64, counters: [AgentJSON] = [],
                gauges: [AgentJSON] = [], histograms: [AgentJSON] = []) {
        self.agentID = agentID
        self.timestampMs = timestampMs
        self.intervalMs = intervalMs
        self.counters = counters
        self.gauges = gauges
        self.histograms = histograms
    }

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", timestampMs = "timestamp_ms", intervalMs = "interval_ms", counters, gauges, histograms
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        agentID = try c.decode(String.self, forKey: .agentID)
        timestampMs = try c.decode(UInt64.self, forKey: .timestampMs)
        intervalMs = try c.decode(UInt64.self, forKey: .intervalMs)
        counters = try c.decodeIfPresent([AgentJSON].self, forKey: .counters) ?? []
        gauges = try c.decodeIfPresent([AgentJSON].self, forKey: .gauges) ?? []
        histograms = try c.decodeIfPresent([AgentJSON].self, forKey: .histograms) ?? []
    }
}
