/// 0x01, the proxy's first frame on every connection (always JSON).
public struct HandshakeRequest: Sendable, Hashable, Codable {
    /// Always `[2]`.
    public var supportedVersions: [UInt32]
    /// The proxy's name (`"sentinel-proxy"` for Sentinel).
    public var proxyID: String
    public var proxyVersion: String
    /// Settings for the agent; null when none (Sentinel sends the agent's settings as a
    /// Configure frame after the handshake, and repeats them here).
    public var config: AgentJSON?
    /// Encodings the proxy can read, in order of preference; omitted on the wire when empty.
    public var supportedEncodings: [String]

    public init(proxyID: String = "sentinel-proxy", proxyVersion: String, config: AgentJSON? = nil,
                supportedVersions: [UInt32] = [2], supportedEncodings: [String] = ["json"]) {
        self.supportedVersions = supportedVersions
        self.proxyID = proxyID
        self.proxyVersion = proxyVersion
        self.config = config
        self.supportedEncodings = supportedEncodings
    }

    enum CodingKeys: String, CodingKey {
        case supportedVersions = "supported_versions", proxyID = "proxy_id", proxyVersion = "proxy_version"
        case config, supportedEncodings = "supported_encodings"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        supportedVersions = try c.decode([UInt32].self, forKey: .supportedVersions)
        proxyID = try c.decode(String.self, forKey: .proxyID)
        proxyVersion = try c.decode(String.self, forKey: .proxyVersion)
        config = try c.decodeIfPresent(AgentJSON.self, forKey: .config).flatMap { $0 == .null ? nil : $0 }
        supportedEncodings = try c.decodeIfPresent([String].self, forKey: .supportedEncodings) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(supportedVersions, forKey: .supportedVersions)
        try c.encode(proxyID, forKey: .proxyID)
        try c.encode(proxyVersion, forKey: .proxyVersion)
        try c.encode(config, forKey: .config)
        if !supportedEncodings.isEmpty { try c.encode(supportedEncodings, forKey: .supportedEncodings) }
    }
}

/// 0x02, the agent's answer to the handshake. Every capability field is required.
public struct HandshakeResponse: Sendable, Hashable, Codable {
    public var protocolVersion: UInt32
    public var capabilities: AgentCapabilities
    public var success: Bool
    public var error: String?
    /// The encoding of every later frame; `"json"` when absent. Only `"json"` and `"msgpack"`
    /// are valid values (Sentinel offers and accepts JSON only).
    public var encoding: String

    public init(capabilities: AgentCapabilities, success: Bool = true, error: String? = nil,
                protocolVersion: UInt32 = 2, encoding: String = "json") {
        self.protocolVersion = protocolVersion
        self.capabilities = capabilities
        self.success = success
        self.error = error
        self.encoding = encoding
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version", capabilities, success, error, encoding
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        protocolVersion = try c.decode(UInt32.self, forKey: .protocolVersion)
        capabilities = try c.decode(AgentCapabilities.self, forKey: .capabilities)
        success = try c.decode(Bool.self, forKey: .success)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        encoding = try c.decodeIfPresent(String.self, forKey: .encoding) ?? "json"
        guard encoding == "json" || encoding == "msgpack" else {
            throw DecodingError.dataCorruptedError(forKey: .encoding, in: c, debugDescription: "unknown encoding \"\(encoding)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(protocolVersion, forKey: .protocolVersion)
        try c.encode(capabilities, forKey: .capabilities)
        try c.encode(success, forKey: .success)
        try c.encode(error, forKey: .error)
        try c.encode(encoding, forKey: .encoding)
    }
}

/// What an agent says about itself in the handshake (informational for the proxy).
public struct AgentCapabilities: Sendable, Hashable, Codable {
    public var agentID: String
    public var name: String
    public var version: String
    /// Proto event numbers (`AgentEventCode`); unknown numbers are kept as sent.
    public var supportedEvents: [Int32]
    public var features: AgentFeatures
    public var limits: AgentLimits

    public init(agentID: String, name: String, version: String, supportedEvents: [Int32] = [1],
                features: AgentFeatures = AgentFeatures(), limits: AgentLimits = AgentLimits()) {
        self.agentID = agentID
        self.name = name
        self.version = version
        self.supportedEvents = supportedEvents
        self.features = features
        self.limits = limits
    }

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", name, version, supportedEvents = "supported_events", features, limits
    }
}

/// The nine feature flags of the handshake; all required on the wire.
public struct AgentFeatures: Sendable, Hashable, Codable {
    public var streamingBody = false
    public var websocket = false
    public var guardrails = false
    public var configPush = false
    public var metricsExport = false
    public var concurrentRequests: UInt32 = 0
    public var cancellation = false
    public var flowControl = false
    public var healthReporting = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case streamingBody = "streaming_body", websocket, guardrails, configPush = "config_push"
        case metricsExport = "metrics_export", concurrentRequests = "concurrent_requests", cancellation
        case flowControl = "flow_control", healthReporting = "health_reporting"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        streamingBody = try c.decode(Bool.self, forKey: .streamingBody)
        websocket = try c.decode(Bool.self, forKey: .websocket)
        guardrails = try c.decode(Bool.self, forKey: .guardrails)
        configPush = try c.decode(Bool.self, forKey: .configPush)
        metricsExport = try c.decode(Bool.self, forKey: .metricsExport)
        concurrentRequests = try c.decode(UInt32.self, forKey: .concurrentRequests)
        cancellation = try c.decode(Bool.self, forKey: .cancellation)
        flowControl = try c.decode(Bool.self, forKey: .flowControl)
        healthReporting = try c.decode(Bool.self, forKey: .healthReporting)
    }
}

/// The three limits of the handshake; all required on the wire.
public struct AgentLimits: Sendable, Hashable, Codable {
    public var maxBodySize: UInt64 = 10 * 1024 * 1024
    public var maxConcurrency: UInt32 = 100
    public var preferredChunkSize: UInt64 = 64 * 1024

    public init() {}

    enum CodingKeys: String, CodingKey {
        case maxBodySize = "max_body_size", maxConcurrency = "max_concurrency", preferredChunkSize = "preferred_chunk_size"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxBodySize = try c.decode(UInt64.self, forKey: .maxBodySize)
        maxConcurrency = try c.decode(UInt32.self, forKey: .maxConcurrency)
        preferredChunkSize = try c.decode(UInt64.self, forKey: .preferredChunkSize)
    }
}
