public import SentinelAgentProtocol
public import SentinelAgentSDK
import Synchronization

/// The echo agent: reflects what it saw as `X-Echo-*` headers (request headers upstream,
/// response headers to the client) and in its audit data. A reference agent and a probe for
/// checking that a route's agent wiring works.
public final class EchoAgent: AgentHandler {
    public struct Settings: Sendable, Equatable, Decodable {
        /// Prefix of every echo header (default `X-Echo-`).
        public var prefix = "X-Echo-"
        /// Also echo client address, timestamp, user agent, content type, header counts.
        public var verbose = false

        public init(prefix: String = "X-Echo-", verbose: Bool = false) {
            self.prefix = prefix
            self.verbose = verbose
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: SettingsKey.self)
            try c.refuseUnknown(["prefix", "verbose"], in: "echo settings")
            prefix = try c.decodeIfPresent(String.self, forKey: SettingsKey("prefix")) ?? "X-Echo-"
            verbose = try c.decodeIfPresent(Bool.self, forKey: SettingsKey("verbose")) ?? false
            guard !prefix.isEmpty, prefix.utf8.allSatisfy(isHeaderNameByte) else {
                throw SettingsError("prefix \"\(prefix)\" cannot start a header name")
            }
        }
    }

    let settings: Mutex<Settings>
    let requests = Atomic<UInt64>(0)
    public static let version = "1.0.0"

    public init(settings: Settings = Settings()) {
        self.settings = Mutex(settings)
    }

    public var capabilities: AgentCapabilities {
        var f = AgentFeatures()
        f.configPush = true
        f.cancellation = true
        f.concurrentRequests = 256
        return AgentCapabilities(agentID: "echo", name: "Sentinel echo agent", version: Self.version,
                                 supportedEvents: [1, 2, 3, 4, 5], features: f)
    }

    public var current: Settings { settings.withLock { $0 } }

    public func configure(_ config: AgentJSON, version: String?) async throws {
        let s = try decodeSettings(Settings.self, from: config)
        settings.withLock { $0 = s }
    }

    public func requestHeaders(_ event: RequestHeadersEvent) async -> AgentResponse {
        let s = current
        let n = requests.wrappingAdd(1, ordering: .relaxed).newValue
        var r = AgentResponse.allow()
            .settingRequestHeader(s.prefix + "Agent", "sentinel-agent-echo/\(Self.version)")
            .settingRequestHeader(s.prefix + "Correlation-Id", event.metadata.correlationID)
            .settingRequestHeader(s.prefix + "Request-Num", String(n))
            .settingRequestHeader(s.prefix + "Method", event.method)
            .settingRequestHeader(s.prefix + "Path", event.uri)
        if s.verbose {
            r = r.settingRequestHeader(s.prefix + "Client-Ip", event.metadata.clientIP)
                .settingRequestHeader(s.prefix + "Timestamp", event.metadata.timestamp)
            if let ua = event.headers["user-agent"]?.first { r = r.settingRequestHeader(s.prefix + "User-Agent", ua) }
            if let ct = event.headers["content-type"]?.first { r = r.settingRequestHeader(s.prefix + "Content-Type", ct) }
            r = r.settingRequestHeader(s.prefix + "Header-Count", String(event.headers.count))
        }
        return r.tagged("echo", "request_headers")
            .withAudit("request_num", .number(Double(n)))
            .withAudit("method", .string(event.method))
            .withAudit("uri", .string(event.uri))
    }

    public func requestBodyChunk(_ event: RequestBodyChunkEvent) async -> AgentResponse {
        let s = current
        var r = AgentResponse.allow()
            .settingRequestHeader(s.prefix + "Body-Chunk-Size", String(event.chunk.data.count))
            .settingRequestHeader(s.prefix + "Body-Last-Chunk", String(event.chunk.isLast))
        if let total = event.chunk.totalSize { r = r.settingRequestHeader(s.prefix + "Body-Total-Size", String(total)) }
        return r.tagged("echo", "request_body").withAudit("chunk_size", .number(Double(event.chunk.data.count)))
    }

    public func responseHeaders(_ event: ResponseHeadersEvent) async -> AgentResponse {
        let s = current
        var r = AgentResponse.allow()
            .settingResponseHeader(s.prefix + "Response-Status", String(event.status))
            .settingResponseHeader(s.prefix + "Response-Correlation-Id", event.correlationID)
        if s.verbose {
            r = r.settingResponseHeader(s.prefix + "Response-Header-Count", String(event.headers.count))
            if let ct = event.headers["content-type"]?.first { r = r.settingResponseHeader(s.prefix + "Response-Content-Type", ct) }
        }
        return r.tagged("echo", "response_headers").withAudit("status", .number(Double(event.status)))
    }

    public func responseBodyChunk(_ event: ResponseBodyChunkEvent) async -> AgentResponse {
        let s = current
        var r = AgentResponse.allow()
            .settingResponseHeader(s.prefix + "Response-Body-Chunk-Size", String(event.chunk.data.count))
            .settingResponseHeader(s.prefix + "Response-Body-Last-Chunk", String(event.chunk.isLast))
        if let total = event.chunk.totalSize { r = r.settingResponseHeader(s.prefix + "Response-Body-Total-Size", String(total)) }
        return r.tagged("echo", "response_body").withAudit("chunk_size", .number(Double(event.chunk.data.count)))
    }

    public func requestComplete(_ event: RequestCompleteEvent) async -> AgentResponse {
        AgentResponse.allow().tagged("echo", "request_complete")
            .withAudit("status", .number(Double(event.status)))
            .withAudit("duration_ms", .number(Double(event.durationMs)))
            .withAudit("request_body_size", .number(Double(event.requestBodySize)))
            .withAudit("response_body_size", .number(Double(event.responseBodySize)))
    }
}
