/// Where a request came from and where it is going: the `metadata` of RequestHeaders (0x10).
public struct RequestMetadata: Sendable, Hashable, Codable {
    /// The request's trace id; equals the event's top-level `correlation_id`.
    public var correlationID: String
    /// A fresh id per event (a UUID v4 in the original).
    public var requestID: String
    /// The client address as `ip:port` (`[v6]:port` for IPv6), as the original sends it.
    public var clientIP: String
    /// Always 0 in the original (the port is inside `client_ip`).
    public var clientPort: UInt16
    public var serverName: String?
    /// `"HTTP/1.1"` whatever the protocol, as the original.
    public var `protocol`: String
    public var tlsVersion: String?
    public var tlsCipher: String?
    public var routeID: String?
    public var upstreamID: String?
    /// RFC 3339 with nanoseconds and `+00:00`.
    public var timestamp: String
    /// W3C traceparent; omitted on the wire when nil.
    public var traceparent: String?

    public init(correlationID: String, requestID: String, clientIP: String, clientPort: UInt16 = 0,
                serverName: String? = nil, protocol: String = "HTTP/1.1", tlsVersion: String? = nil,
                tlsCipher: String? = nil, routeID: String? = nil, upstreamID: String? = nil,
                timestamp: String, traceparent: String? = nil) {
        self.correlationID = correlationID
        self.requestID = requestID
        self.clientIP = clientIP
        self.clientPort = clientPort
        self.serverName = serverName
        self.protocol = `protocol`
        self.tlsVersion = tlsVersion
        self.tlsCipher = tlsCipher
        self.routeID = routeID
        self.upstreamID = upstreamID
        self.timestamp = timestamp
        self.traceparent = traceparent
    }

    enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id", requestID = "request_id", clientIP = "client_ip"
        case clientPort = "client_port", serverName = "server_name", `protocol`, tlsVersion = "tls_version"
        case tlsCipher = "tls_cipher", routeID = "route_id", upstreamID = "upstream_id", timestamp, traceparent
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(correlationID, forKey: .correlationID)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(clientIP, forKey: .clientIP)
        try c.encode(clientPort, forKey: .clientPort)
        try c.encode(serverName, forKey: .serverName)
        try c.encode(`protocol`, forKey: .protocol)
        try c.encode(tlsVersion, forKey: .tlsVersion)
        try c.encode(tlsCipher, forKey: .tlsCipher)
        try c.encode(routeID, forKey: .routeID)
        try c.encode(upstreamID, forKey: .upstreamID)
        try c.encode(timestamp, forKey: .timestamp)
        try c.encodeIfPresent(traceparent, forKey: .traceparent)
    }
}

/// 0x10: the request line and headers.
public struct RequestHeadersEvent: Sendable, Hashable, Codable {
    public var correlationID: String
    public var metadata: RequestMetadata
    public var method: String
    /// Path and query, as received.
    public var uri: String
    /// Lower-case names; repeated fields keep their order in the list.
    public var headers: [String: [String]]

    public init(correlationID: String, metadata: RequestMetadata, method: String, uri: String, headers: [String: [String]]) {
        self.correlationID = correlationID
        self.metadata = metadata
        self.method = method
        self.uri = uri
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id", metadata, method, uri, headers
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decode(RequestMetadata.self, forKey: .metadata)
        // The original's agents read the metadata's id; accept a frame without the top-level one.
        correlationID = try c.decodeIfPresent(String.self, forKey: .correlationID) ?? metadata.correlationID
        method = try c.decode(String.self, forKey: .method)
        uri = try c.decode(String.self, forKey: .uri)
        headers = try c.decode([String: [String]].self, forKey: .headers)
    }
}

/// Bytes carried as padded standard base64 in a JSON string.
public struct Base64Bytes: Sendable, Hashable, Codable, ExpressibleByArrayLiteral {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(arrayLiteral elements: UInt8...) { bytes = elements }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let b = AgentBase64.decode(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not padded standard base64")
        }
        bytes = b
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(AgentBase64.encode(bytes))
    }
}

/// 0x11 (request, `bytes_received`) and 0x13 (response, `bytes_sent`): one piece of a body.
public struct BodyChunkEvent: Sendable, Hashable {
    public var correlationID: String
    public var data: [UInt8]
    public var isLast: Bool
    /// The whole body's size when known.
    public var totalSize: Int?
    public var chunkIndex: UInt32
    /// Bytes of the body delivered so far, this chunk included.
    public var bytesTransferred: Int

    public init(correlationID: String, data: [UInt8], isLast: Bool, totalSize: Int?, chunkIndex: UInt32 = 0, bytesTransferred: Int) {
        self.correlationID = correlationID
        self.data = data
        self.isLast = isLast
        self.totalSize = totalSize
        self.chunkIndex = chunkIndex
        self.bytesTransferred = bytesTransferred
    }
}

/// 0x11: a request body chunk (`bytes_received`).
public struct RequestBodyChunkEvent: Sendable, Hashable, Codable {
    public var chunk: BodyChunkEvent
    public init(_ chunk: BodyChunkEvent) { self.chunk = chunk }
    public init(from decoder: any Decoder) throws { chunk = try BodyChunkCoding.decode(decoder, counter: .bytesReceived) }
    public func encode(to encoder: any Encoder) throws { try BodyChunkCoding.encode(chunk, encoder, counter: .bytesReceived) }
}

/// 0x13: a response body chunk (`bytes_sent`).
public struct ResponseBodyChunkEvent: Sendable, Hashable, Codable {
    public var chunk: BodyChunkEvent
    public init(_ chunk: BodyChunkEvent) { self.chunk = chunk }
    public init(from decoder: any Decoder) throws { chunk = try BodyChunkCoding.decode(decoder, counter: .bytesSent) }
    public func encode(to encoder: any Encoder) throws { try BodyChunkCoding.encode(chunk, encoder, counter: .bytesSent) }
}

enum BodyChunkCoding {
    enum Keys: String, CodingKey {
        case correlationID = "correlation_id", data, isLast = "is_last", totalSize = "total_size"
        case chunkIndex = "chunk_index", bytesReceived = "bytes_received", bytesSent = "bytes_sent"
    }

    static func decode(_ decoder: any Decoder, counter: Keys) throws -> BodyChunkEvent {
        let c = try decoder.container(keyedBy: Keys.self)
        return BodyChunkEvent(
            correlationID: try c.decode(String.self, forKey: .correlationID),
            data: try c.decode(Base64Bytes.self, forKey: .data).bytes,
            isLast: try c.decode(Bool.self, forKey: .isLast),
            totalSize: try c.decodeIfPresent(Int.self, forKey: .totalSize),
            chunkIndex: try c.decodeIfPresent(UInt32.self, forKey: .chunkIndex) ?? 0,
            bytesTransferred: try c.decodeIfPresent(Int.self, forKey: counter) ?? 0)
    }

    static func encode(_ e: BodyChunkEvent, _ encoder: any Encoder, counter: Keys) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(e.correlationID, forKey: .correlationID)
        try c.encode(Base64Bytes(e.data), forKey: .data)
        try c.encode(e.isLast, forKey: .isLast)
        try c.encode(e.totalSize, forKey: .totalSize)
        try c.encode(e.chunkIndex, forKey: .chunkIndex)
        try c.encode(e.bytesTransferred, forKey: counter)
    }
}

/// 0x12: the upstream response's status and headers.
public struct ResponseHeadersEvent: Sendable, Hashable, Codable {
    public var correlationID: String
    public var status: UInt16
    public var headers: [String: [String]]

    public init(correlationID: String, status: UInt16, headers: [String: [String]]) {
        self.correlationID = correlationID
        self.status = status
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey { case correlationID = "correlation_id", status, headers }
}

/// 0x14: the exchange is over (for `log` agents).
public struct RequestCompleteEvent: Sendable, Hashable, Codable {
    public var correlationID: String
    public var status: UInt16
    public var durationMs: UInt64
    public var requestBodySize: Int
    public var responseBodySize: Int
    public var upstreamAttempts: UInt32
    public var error: String?

    public init(correlationID: String, status: UInt16, durationMs: UInt64, requestBodySize: Int,
                responseBodySize: Int, upstreamAttempts: UInt32, error: String? = nil) {
        self.correlationID = correlationID
        self.status = status
        self.durationMs = durationMs
        self.requestBodySize = requestBodySize
        self.responseBodySize = responseBodySize
        self.upstreamAttempts = upstreamAttempts
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id", status, durationMs = "duration_ms", requestBodySize = "request_body_size"
        case responseBodySize = "response_body_size", upstreamAttempts = "upstream_attempts", error
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(correlationID, forKey: .correlationID)
        try c.encode(status, forKey: .status)
        try c.encode(durationMs, forKey: .durationMs)
        try c.encode(requestBodySize, forKey: .requestBodySize)
        try c.encode(responseBodySize, forKey: .responseBodySize)
        try c.encode(upstreamAttempts, forKey: .upstreamAttempts)
        try c.encode(error, forKey: .error)
    }
}

/// The opcode names of WebSocketFrame events.
public enum WebSocketOpcode: String, Sendable, Hashable, Codable, CaseIterable {
    case continuation, text, binary, close, ping, pong

    /// From the RFC 6455 opcode nibble; nil for reserved opcodes.
    public init?(wire: UInt8) {
        switch wire {
        case 0x0: self = .continuation
        case 0x1: self = .text
        case 0x2: self = .binary
        case 0x8: self = .close
        case 0x9: self = .ping
        case 0xA: self = .pong
        default: return nil
        }
    }
}

/// 0x15: one WebSocket frame after an upgrade.
public struct WebSocketFrameEvent: Sendable, Hashable, Codable {
    /// The upgrade request's correlation id.
    public var correlationID: String
    public var opcode: WebSocketOpcode
    public var data: Base64Bytes
    public var clientToServer: Bool
    /// 0-based, per direction.
    public var frameIndex: UInt64
    public var fin: Bool
    public var routeID: String?
    public var clientIP: String

    public init(correlationID: String, opcode: WebSocketOpcode, data: [UInt8], clientToServer: Bool,
                frameIndex: UInt64, fin: Bool, routeID: String?, clientIP: String) {
        self.correlationID = correlationID
        self.opcode = opcode
        self.data = Base64Bytes(data)
        self.clientToServer = clientToServer
        self.frameIndex = frameIndex
        self.fin = fin
        self.routeID = routeID
        self.clientIP = clientIP
    }

    enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id", opcode, data, clientToServer = "client_to_server"
        case frameIndex = "frame_index", fin, routeID = "route_id", clientIP = "client_ip"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(correlationID, forKey: .correlationID)
        try c.encode(opcode, forKey: .opcode)
        try c.encode(data, forKey: .data)
        try c.encode(clientToServer, forKey: .clientToServer)
        try c.encode(frameIndex, forKey: .frameIndex)
        try c.encode(fin, forKey: .fin)
        try c.encode(routeID, forKey: .routeID)
        try c.encode(clientIP, forKey: .clientIP)
    }
}

/// 0x16: text for an inference guardrail to inspect.
public struct GuardrailInspectEvent: Sendable, Hashable, Codable {
    public enum InspectionType: String, Sendable, Hashable, Codable {
        case promptInjection = "prompt_injection", piiDetection = "pii_detection"
    }

    public var correlationID: String
    public var inspectionType: InspectionType
    public var content: String
    /// Omitted on the wire when nil.
    public var model: String?
    public var categories: [String]
    /// Omitted on the wire when nil.
    public var routeID: String?
    public var metadata: [String: String]

    public init(correlationID: String, inspectionType: InspectionType, content: String, model: String? = nil,
                categories: [String] = [], routeID: String? = nil, metadata: [String: String] = [:]) {
        self.correlationID = correlationID
        self.inspectionType = inspectionType
        self.content = content
        self.model = model
        self.categories = categories
        self.routeID = routeID
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id", inspectionType = "inspection_type", content, model, categories
        case routeID = "route_id", metadata
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        correlationID = try c.decode(String.self, forKey: .correlationID)
        inspectionType = try c.decode(InspectionType.self, forKey: .inspectionType)
        content = try c.decode(String.self, forKey: .content)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        categories = try c.decodeIfPresent([String].self, forKey: .categories) ?? []
        routeID = try c.decodeIfPresent(String.self, forKey: .routeID)
        metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
    }
}

/// 0x17: the agent's settings (its `config { }` block), sent after the handshake and on reload.
/// The agent answers an AgentResponse: allow accepts, block rejects.
public struct ConfigureEvent: Sendable, Hashable, Codable {
    public var correlationID: String
    public var config: AgentJSON
    public var configVersion: String?

    public init(correlationID: String, config: AgentJSON, configVersion: String? = nil) {
        self.correlationID = correlationID
        self.config = config
        self.configVersion = configVersion
    }

    enum CodingKeys: String, CodingKey { case correlationID = "correlation_id", config, configVersion = "config_version" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        correlationID = try c.decodeIfPresent(String.self, forKey: .correlationID) ?? ""
        config = try c.decodeIfPresent(AgentJSON.self, forKey: .config) ?? .null
        configVersion = try c.decodeIfPresent(String.self, forKey: .configVersion)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(correlationID, forKey: .correlationID)
        try c.encode(config, forKey: .config)
        try c.encode(configVersion, forKey: .configVersion)
    }
}
