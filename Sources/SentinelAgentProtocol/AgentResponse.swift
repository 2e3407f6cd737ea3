/// 0x20: an agent's answer to one event. Matched to its call only through
/// `audit.custom["correlation_id"]`.
public struct AgentResponse: Sendable, Hashable, Codable {
    public var version: UInt32
    public var decision: AgentDecision
    /// Edits of the request going upstream (applied in order).
    public var requestHeaders: [HeaderOp]
    /// Edits of the response going to the client (applied in order).
    public var responseHeaders: [HeaderOp]
    public var routingMetadata: [String: String]
    public var audit: AuditMetadata
    public var needsMore: Bool
    public var requestBodyMutation: BodyMutation?
    public var responseBodyMutation: BodyMutation?
    public var websocketDecision: WebSocketDecision?

    public init(decision: AgentDecision = .allow, requestHeaders: [HeaderOp] = [], responseHeaders: [HeaderOp] = [],
                routingMetadata: [String: String] = [:], audit: AuditMetadata = AuditMetadata(), needsMore: Bool = false,
                requestBodyMutation: BodyMutation? = nil, responseBodyMutation: BodyMutation? = nil,
                websocketDecision: WebSocketDecision? = nil, version: UInt32 = 2) {
        self.version = version
        self.decision = decision
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.routingMetadata = routingMetadata
        self.audit = audit
        self.needsMore = needsMore
        self.requestBodyMutation = requestBodyMutation
        self.responseBodyMutation = responseBodyMutation
        self.websocketDecision = websocketDecision
    }

    /// The id this response answers: `audit.custom.correlation_id` when it is a string.
    public var correlationID: String? { audit.custom["correlation_id"]?.stringValue }

    /// Sets `audit.custom.correlation_id`.
    public mutating func setCorrelationID(_ id: String) { audit.custom["correlation_id"] = .string(id) }

    enum CodingKeys: String, CodingKey {
        case version, decision, requestHeaders = "request_headers", responseHeaders = "response_headers"
        case routingMetadata = "routing_metadata", audit, needsMore = "needs_more"
        case requestBodyMutation = "request_body_mutation", responseBodyMutation = "response_body_mutation"
        case websocketDecision = "websocket_decision"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(UInt32.self, forKey: .version)
        decision = try c.decode(AgentDecision.self, forKey: .decision)
        requestHeaders = try c.decodeIfPresent([HeaderOp].self, forKey: .requestHeaders) ?? []
        responseHeaders = try c.decodeIfPresent([HeaderOp].self, forKey: .responseHeaders) ?? []
        routingMetadata = try c.decodeIfPresent([String: String].self, forKey: .routingMetadata) ?? [:]
        audit = try c.decodeIfPresent(AuditMetadata.self, forKey: .audit) ?? AuditMetadata()
        needsMore = try c.decodeIfPresent(Bool.self, forKey: .needsMore) ?? false
        requestBodyMutation = try c.decodeIfPresent(BodyMutation.self, forKey: .requestBodyMutation)
        responseBodyMutation = try c.decodeIfPresent(BodyMutation.self, forKey: .responseBodyMutation)
        websocketDecision = try c.decodeIfPresent(WebSocketDecision.self, forKey: .websocketDecision)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(decision, forKey: .decision)
        try c.encode(requestHeaders, forKey: .requestHeaders)
        try c.encode(responseHeaders, forKey: .responseHeaders)
        try c.encode(routingMetadata, forKey: .routingMetadata)
        try c.encode(audit, forKey: .audit)
        try c.encode(needsMore, forKey: .needsMore)
        try c.encode(requestBodyMutation, forKey: .requestBodyMutation)
        try c.encode(responseBodyMutation, forKey: .responseBodyMutation)
        try c.encode(websocketDecision, forKey: .websocketDecision)
    }
}

/// The verdict of an AgentResponse; externally tagged, snake_case on the wire:
/// `"allow"`, `{"block":{…}}`, `{"redirect":{…}}`, `{"challenge":{…}}`.
public enum AgentDecision: Sendable, Hashable, Codable {
    case allow
    /// `status` required; `body` and `headers` optional (null when absent).
    case block(status: UInt16, body: String?, headers: [String: String]?)
    case redirect(url: String, status: UInt16)
    case challenge(challengeType: String, params: [String: String])

    enum Tag: String, CodingKey { case allow, block, redirect, challenge }
    enum BlockKeys: String, CodingKey { case status, body, headers }
    enum RedirectKeys: String, CodingKey { case url, status }
    enum ChallengeKeys: String, CodingKey { case challengeType = "challenge_type", params }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self) {
            guard name == "allow" else {
                throw DecodingError.dataCorruptedError(in: single, debugDescription: "unknown decision \"\(name)\"")
            }
            self = .allow
            return
        }
        let c = try decoder.container(keyedBy: Tag.self)
        guard c.allKeys.count == 1, let tag = c.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "a decision object has exactly one key"))
        }
        switch tag {
        case .allow:
            guard try c.decodeNil(forKey: .allow) else {
                throw DecodingError.dataCorruptedError(forKey: .allow, in: c, debugDescription: "allow carries no fields")
            }
            self = .allow
        case .block:
            let b = try c.nestedContainer(keyedBy: BlockKeys.self, forKey: .block)
            self = .block(status: try b.decode(UInt16.self, forKey: .status),
                          body: try b.decodeIfPresent(String.self, forKey: .body),
                          headers: try b.decodeIfPresent([String: String].self, forKey: .headers))
        case .redirect:
            let r = try c.nestedContainer(keyedBy: RedirectKeys.self, forKey: .redirect)
            self = .redirect(url: try r.decode(String.self, forKey: .url), status: try r.decode(UInt16.self, forKey: .status))
        case .challenge:
            let h = try c.nestedContainer(keyedBy: ChallengeKeys.self, forKey: .challenge)
            self = .challenge(challengeType: try h.decode(String.self, forKey: .challengeType),
                              params: try h.decode([String: String].self, forKey: .params))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .allow:
            var s = encoder.singleValueContainer()
            try s.encode("allow")
        case .block(let status, let body, let headers):
            var c = encoder.container(keyedBy: Tag.self)
            var b = c.nestedContainer(keyedBy: BlockKeys.self, forKey: .block)
            try b.encode(status, forKey: .status)
            try b.encode(body, forKey: .body)
            try b.encode(headers, forKey: .headers)
        case .redirect(let url, let status):
            var c = encoder.container(keyedBy: Tag.self)
            var r = c.nestedContainer(keyedBy: RedirectKeys.self, forKey: .redirect)
            try r.encode(url, forKey: .url)
            try r.encode(status, forKey: .status)
        case .challenge(let type, let params):
            var c = encoder.container(keyedBy: Tag.self)
            var h = c.nestedContainer(keyedBy: ChallengeKeys.self, forKey: .challenge)
            try h.encode(type, forKey: .challengeType)
            try h.encode(params, forKey: .params)
        }
    }
}

/// One header edit: `{"set":{"name","value"}}` replaces every value, `{"add":{…}}` appends a
/// field line, `{"remove":{"name"}}` removes every value.
public enum HeaderOp: Sendable, Hashable, Codable {
    case set(name: String, value: String)
    case add(name: String, value: String)
    case remove(name: String)

    enum Tag: String, CodingKey { case set, add, remove }
    enum Keys: String, CodingKey { case name, value }

    public var name: String {
        switch self {
        case .set(let n, _), .add(let n, _), .remove(let n): return n
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Tag.self)
        guard c.allKeys.count == 1, let tag = c.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "a header op has exactly one key"))
        }
        let f = try c.nestedContainer(keyedBy: Keys.self, forKey: tag)
        let name = try f.decode(String.self, forKey: .name)
        switch tag {
        case .set: self = .set(name: name, value: try f.decode(String.self, forKey: .value))
        case .add: self = .add(name: name, value: try f.decode(String.self, forKey: .value))
        case .remove: self = .remove(name: name)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Tag.self)
        switch self {
        case .set(let n, let v):
            var f = c.nestedContainer(keyedBy: Keys.self, forKey: .set)
            try f.encode(n, forKey: .name)
            try f.encode(v, forKey: .value)
        case .add(let n, let v):
            var f = c.nestedContainer(keyedBy: Keys.self, forKey: .add)
            try f.encode(n, forKey: .name)
            try f.encode(v, forKey: .value)
        case .remove(let n):
            var f = c.nestedContainer(keyedBy: Keys.self, forKey: .remove)
            try f.encode(n, forKey: .name)
        }
    }
}

/// A body change: `data` null keeps the chunk, `""` drops it, otherwise base64 of the
/// replacement bytes.
public struct BodyMutation: Sendable, Hashable, Codable {
    public var data: String?
    public var chunkIndex: UInt32

    public init(data: String?, chunkIndex: UInt32 = 0) {
        self.data = data
        self.chunkIndex = chunkIndex
    }

    /// A replacement by these bytes.
    public static func replace(with bytes: [UInt8], chunkIndex: UInt32 = 0) -> BodyMutation {
        BodyMutation(data: AgentBase64.encode(bytes), chunkIndex: chunkIndex)
    }

    /// The replacement bytes: nil when `data` is null or not valid base64.
    public var replacementBytes: [UInt8]? { data.flatMap(AgentBase64.decode) }

    enum CodingKeys: String, CodingKey { case data, chunkIndex = "chunk_index" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        data = try c.decodeIfPresent(String.self, forKey: .data)
        chunkIndex = try c.decodeIfPresent(UInt32.self, forKey: .chunkIndex) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(data, forKey: .data)
        try c.encode(chunkIndex, forKey: .chunkIndex)
    }
}

/// What to do with an inspected WebSocket frame: `"allow"`, `"drop"`, `{"close":{"code","reason"}}`.
public enum WebSocketDecision: Sendable, Hashable, Codable {
    case allow
    case drop
    case close(code: UInt16, reason: String)

    enum Tag: String, CodingKey { case close }
    enum Keys: String, CodingKey { case code, reason }

    public init(from decoder: any Decoder) throws {
        if let s = try? decoder.singleValueContainer(), let name = try? s.decode(String.self) {
            switch name {
            case "allow": self = .allow
            case "drop": self = .drop
            default: throw DecodingError.dataCorruptedError(in: s, debugDescription: "unknown websocket decision \"\(name)\"")
            }
            return
        }
        let c = try decoder.container(keyedBy: Tag.self)
        let f = try c.nestedContainer(keyedBy: Keys.self, forKey: .close)
        self = .close(code: try f.decode(UInt16.self, forKey: .code), reason: try f.decode(String.self, forKey: .reason))
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .allow:
            var s = encoder.singleValueContainer()
            try s.encode("allow")
        case .drop:
            var s = encoder.singleValueContainer()
            try s.encode("drop")
        case .close(let code, let reason):
            var c = encoder.container(keyedBy: Tag.self)
            var f = c.nestedContainer(keyedBy: Keys.self, forKey: .close)
            try f.encode(code, forKey: .code)
            try f.encode(reason, forKey: .reason)
        }
    }
}

/// Why the agent decided as it did (logged; `custom.correlation_id` matches the response).
public struct AuditMetadata: Sendable, Hashable, Codable {
    public var tags: [String]
    public var ruleIDs: [String]
    public var confidence: Float?
    public var reasonCodes: [String]
    public var custom: [String: AgentJSON]

    public init(tags: [String] = [], ruleIDs: [String] = [], confidence: Float? = nil, reasonCodes: [String] = [],
                custom: [String: AgentJSON] = [:]) {
        self.tags = tags
        self.ruleIDs = ruleIDs
        self.confidence = confidence
        self.reasonCodes = reasonCodes
        self.custom = custom
    }

    enum CodingKeys: String, CodingKey { case tags, ruleIDs = "rule_ids", confidence, reasonCodes = "reason_codes", custom }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
        ruleIDs = try c.decodeIfPresent([String].self, forKey: .ruleIDs) ?? []
        confidence = try c.decodeIfPresent(Float.self, forKey: .confidence)
        reasonCodes = try c.decodeIfPresent([String].self, forKey: .reasonCodes) ?? []
        custom = try c.decodeIfPresent([String: AgentJSON].self, forKey: .custom) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tags, forKey: .tags)
        try c.encode(ruleIDs, forKey: .ruleIDs)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(reasonCodes, forKey: .reasonCodes)
        try c.encode(custom, forKey: .custom)
    }
}
