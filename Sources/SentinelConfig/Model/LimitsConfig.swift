import KDL

/// Resource bounds (`limits { … }`). Every limit has a safe default; names with and without the
/// `-bytes` suffix are both accepted (the original's two parsers disagreed).
public struct LimitsConfig: Sendable, Hashable {
    public var maxHeaderSizeBytes: Int = 8192
    public var maxHeaderCount: Int = 100
    public var maxHeaderNameBytes: Int = 256
    public var maxHeaderValueBytes: Int = 4096
    /// Longest request target (path and query); longer ones get 414.
    public var maxURILengthBytes: Int = 8192
    public var maxBodySizeBytes: Int64 = 10 << 20
    public var maxBodyBufferBytes: Int64 = 1 << 20
    public var maxBodyInspectionBytes: Int64 = 1 << 20
    public var maxDecompressionRatio: Double = 100
    public var maxDecompressedSizeBytes: Int64 = 100 << 20
    public var maxConnectionsPerClient: Int = 100
    public var maxConnectionsPerRoute: Int = 1000
    public var maxTotalConnections: Int = 10_000
    public var maxIdleConnectionsPerUpstream: Int = 100
    public var maxInFlightRequests: Int = 10_000
    public var maxInFlightRequestsPerWorker: Int = 1000
    public var maxQueuedRequests: Int = 1000
    public var maxAgentQueueDepth: Int = 100
    public var maxAgentBodyBytes: Int64 = 1 << 20
    public var maxAgentResponseBytes: Int64 = 10 << 10
    /// TLS handshakes in flight per process (worker); more connections wait unread.
    public var maxTLSHandshakes: Int = 1024
    public var maxRequestsPerSecondGlobal: Int?
    public var maxRequestsPerSecondPerClient: Int?
    public var maxRequestsPerSecondPerRoute: Int?

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> LimitsConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        r.childNoun = "limit"
        var l = LimitsConfig()
        let big = Int64(Int32.max)
        l.maxHeaderSizeBytes = Int(r.size("max-header-size-bytes", "max-header-size", default: 8192, range: 512...(1 << 20))!)
        l.maxHeaderCount = r.int("max-header-count", default: 100, range: 1...10_000)
        l.maxHeaderNameBytes = Int(r.size("max-header-name-bytes", "max-header-name-size", default: 256, range: 16...65535)!)
        l.maxHeaderValueBytes = Int(r.size("max-header-value-bytes", "max-header-value-size", default: 4096, range: 64...(1 << 20))!)
        l.maxURILengthBytes = Int(r.size("max-uri-length-bytes", "max-uri-length", default: 8192, range: 256...(1 << 20))!)
        l.maxBodySizeBytes = r.size("max-body-size-bytes", "max-body-size", default: l.maxBodySizeBytes)!
        l.maxBodyBufferBytes = r.size("max-body-buffer-bytes", "max-body-buffer-size", default: l.maxBodyBufferBytes, range: 0...(1 << 32))!
        l.maxBodyInspectionBytes = r.size("max-body-inspection-bytes", "max-body-inspection-size", default: l.maxBodyInspectionBytes, range: 0...(1 << 32))!
        l.maxDecompressionRatio = r.double("max-decompression-ratio", default: 100, range: 1...100_000)
        l.maxDecompressedSizeBytes = r.size("max-decompressed-size-bytes", "max-decompressed-size", default: l.maxDecompressedSizeBytes)!
        l.maxConnectionsPerClient = r.int("max-connections-per-client", default: 100, range: 1...big)
        l.maxConnectionsPerRoute = r.int("max-connections-per-route", default: 1000, range: 1...big)
        l.maxTotalConnections = r.int("max-total-connections", default: 10_000, range: 1...big)
        l.maxIdleConnectionsPerUpstream = r.int("max-idle-connections-per-upstream", default: 100, range: 0...big)
        l.maxInFlightRequests = r.int("max-in-flight-requests", default: 10_000, range: 1...big)
        l.maxInFlightRequestsPerWorker = r.int("max-in-flight-requests-per-worker", default: 1000, range: 1...big)
        l.maxQueuedRequests = r.int("max-queued-requests", default: 1000, range: 0...big)
        l.maxAgentQueueDepth = r.int("max-agent-queue-depth", default: 100, range: 1...big)
        l.maxAgentBodyBytes = r.size("max-agent-body-bytes", default: l.maxAgentBodyBytes, range: 1...(1 << 32))!
        l.maxAgentResponseBytes = r.size("max-agent-response-bytes", default: l.maxAgentResponseBytes, range: 1...(1 << 30))!
        l.maxTLSHandshakes = r.int("max-tls-handshakes", default: 1024, range: 1...1_000_000)
        l.maxRequestsPerSecondGlobal = r.int("max-requests-per-second-global", range: 1...big)
        l.maxRequestsPerSecondPerClient = r.int("max-requests-per-second-per-client", range: 1...big)
        l.maxRequestsPerSecondPerRoute = r.int("max-requests-per-second-per-route", range: 1...big)
        r.finish()
        if l.maxHeaderValueBytes > l.maxHeaderSizeBytes || l.maxHeaderNameBytes > l.maxHeaderSizeBytes {
            sink.error(node.location, r.path, "a single header may not be larger than max-header-size-bytes (\(l.maxHeaderSizeBytes))")
        }
        return l
    }
}
