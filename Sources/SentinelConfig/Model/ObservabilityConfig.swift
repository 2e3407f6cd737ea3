import KDL

/// `observability { metrics {…}; logging {…}; tracing {…} }`.
public struct ObservabilityConfig: Sendable, Hashable {
    /// `metrics { … }`: the Prometheus endpoint.
    public struct Metrics: Sendable, Hashable {
        /// `enabled`: serve metrics.
        public var enabled = true
        /// `address`: a separate plain-HTTP listener for Prometheus scrapes.
        public var address = "0.0.0.0:9090"
        /// `path`: the scrape path.
        public var path = "/metrics"
        /// `high-cardinality`: add per-path and per-client labels (can explode series counts).
        public var highCardinality = false
        public init() {}
    }

    public enum LogLevel: String, Sendable, Hashable {
        case trace, debug, info, warn, error
        static let options: [(String, LogLevel)] = [("trace", .trace), ("debug", .debug), ("info", .info), ("warn", .warn), ("warning", .warn), ("error", .error)]
    }

    public enum AccessLogFormat: String, Sendable, Hashable {
        /// One JSON object per line (the default).
        case json
        /// Apache/nginx "combined" (with referer, user agent, trace id and duration).
        case combined
        /// Common Log Format (`clf`/`common`).
        case common
    }

    /// `access-log { … }`: one line per request.
    public struct AccessLog: Sendable, Hashable {
        /// `enabled`.
        public var enabled = true
        /// `file`.
        public var file = "/var/log/sentinel/access.log"
        /// `format`: json, combined, or clf/common.
        public var format: AccessLogFormat = .json
        /// `buffer-size`: bytes buffered before a write.
        public var bufferSize: Int64 = 8192
        /// `include-trace-id`: add the trace id to each entry.
        public var includeTraceID = true
        /// `sample-rate`: fraction of requests logged (0.0...1.0).
        public var sampleRate = 1.0
        /// `sample-errors-always`: always log 4xx and 5xx, whatever the sample rate.
        public var sampleErrorsAlways = true
        public init() {}
    }

    /// `error-log { … }`: proxy warnings and errors as JSON lines.
    public struct ErrorLog: Sendable, Hashable {
        public var enabled = true
        public var file = "/var/log/sentinel/error.log"
        /// `level`: the lowest level written.
        public var level: LogLevel = .warn
        public var bufferSize: Int64 = 8192
        public init() {}
    }

    /// `audit-log { … }`: security events (blocks, agent decisions, WAF events, reloads).
    public struct AuditLog: Sendable, Hashable {
        public var enabled = true
        public var file = "/var/log/sentinel/audit.log"
        public var bufferSize: Int64 = 8192
        /// `log-blocked`: record blocked requests.
        public var logBlocked = true
        /// `log-agent-decisions`: record every agent decision.
        public var logAgentDecisions = true
        /// `log-waf-events`: record WAF rule matches.
        public var logWafEvents = true
        public init() {}
    }

    /// `logging { … }`.
    public struct Logging: Sendable, Hashable {
        /// `level`: the stdout/stderr log level (`--verbose` raises it to debug).
        public var level: LogLevel = .info
        /// `format`: stdout log format, `json` (default) or `text`.
        public var format = "json"
        /// `timestamps`: include timestamps in stdout logs.
        public var timestamps = true
        /// nil when there is no `access-log` block (no access log is written).
        public var accessLog: AccessLog?
        /// nil when there is no `error-log` block.
        public var errorLog: ErrorLog?
        /// nil when there is no `audit-log` block.
        public var auditLog: AuditLog?
        public init() {}
    }

    public enum TracingBackend: String, Sendable, Hashable {
        case otlp, jaeger, zipkin
    }

    /// `tracing { backend "otlp" { endpoint "…" }; sampling-rate; service-name }`.
    public struct Tracing: Sendable, Hashable {
        public var backend: TracingBackend
        /// The collector endpoint (required).
        public var endpoint: String
        /// `sampling-rate`: fraction of traces recorded (0.0...1.0).
        public var samplingRate = 0.01
        /// `service-name`: the service name on spans.
        public var serviceName = "sentinel"
        public init(backend: TracingBackend, endpoint: String) {
            self.backend = backend
            self.endpoint = endpoint
        }
    }

    public var metrics = Metrics()
    public var logging = Logging()
    /// nil when there is no `tracing` block (tracing off).
    public var tracing: Tracing?

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> ObservabilityConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = ObservabilityConfig()
        if let m = r.single("metrics") { c.metrics = readMetrics(m, r.path, sink) }
        if let l = r.single("logging") { c.logging = readLogging(l, r.path, sink) }
        if let t = r.single("tracing") { c.tracing = readTracing(t, r.path, sink) }
        r.finish()
        return c
    }

    private static func readMetrics(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> Metrics {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var m = Metrics()
        m.enabled = r.bool("enabled", default: m.enabled)
        if let a = r.locatedString("address") {
            if AddressSyntax.isHostPort(a.value) { m.address = a.value } else {
                sink.error(a.location, r.path, "\"\(a.value)\" is not a host:port address", hint: "e.g. \"127.0.0.1:9090\" or \"[::1]:9090\"")
            }
        }
        if let p = r.locatedString("path") {
            if p.value.hasPrefix("/") { m.path = p.value } else {
                sink.error(p.location, r.path, "the metrics path must start with \"/\"")
            }
        }
        m.highCardinality = r.bool("high-cardinality", default: m.highCardinality)
        r.finish()
        return m
    }

    private static func readLogging(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> Logging {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var l = Logging()
        l.level = r.choice("level", default: l.level, options: LogLevel.options)
        l.format = r.choice("format", default: l.format, options: [("json", "json"), ("text", "text"), ("pretty", "text")])
        l.timestamps = r.bool("timestamps", default: l.timestamps)
        if let n = r.single("access-log") {
            var ar = NodeReader(n, path: r.path.appending(n), sink: sink)
            var a = AccessLog()
            a.enabled = ar.bool("enabled", default: a.enabled)
            a.file = ar.string("file") ?? a.file
            a.format = ar.choice("format", default: a.format, options: [("json", .json), ("combined", .combined), ("clf", .common), ("common", .common)])
            a.bufferSize = ar.size("buffer-size", default: a.bufferSize, range: 0...(1 << 30))!
            a.includeTraceID = ar.bool("include-trace-id", default: a.includeTraceID)
            a.sampleRate = ar.double("sample-rate", default: a.sampleRate, range: 0...1)
            a.sampleErrorsAlways = ar.bool("sample-errors-always", default: a.sampleErrorsAlways)
            ar.finish()
            l.accessLog = a
        }
        if let n = r.single("error-log") {
            var er = NodeReader(n, path: r.path.appending(n), sink: sink)
            var e = ErrorLog()
            e.enabled = er.bool("enabled", default: e.enabled)
            e.file = er.string("file") ?? e.file
            e.level = er.choice("level", default: e.level, options: LogLevel.options)
            e.bufferSize = er.size("buffer-size", default: e.bufferSize, range: 0...(1 << 30))!
            er.finish()
            l.errorLog = e
        }
        if let n = r.single("audit-log") {
            var ar = NodeReader(n, path: r.path.appending(n), sink: sink)
            var a = AuditLog()
            a.enabled = ar.bool("enabled", default: a.enabled)
            a.file = ar.string("file") ?? a.file
            a.bufferSize = ar.size("buffer-size", default: a.bufferSize, range: 0...(1 << 30))!
            a.logBlocked = ar.bool("log-blocked", default: a.logBlocked)
            a.logAgentDecisions = ar.bool("log-agent-decisions", default: a.logAgentDecisions)
            a.logWafEvents = ar.bool("log-waf-events", default: a.logWafEvents)
            ar.finish()
            l.auditLog = a
        }
        r.finish()
        return l
    }

    private static func readTracing(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> Tracing? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var backend: TracingBackend?
        var endpoint: String?
        if let b = r.single("backend") {
            var br = NodeReader(b, path: r.path.appending(b), sink: sink)
            if let v = br.argument(0) {
                backend = ValueReader(sink: sink, path: br.path, key: "backend").choice(v, options: [("otlp", .otlp), ("jaeger", .jaeger), ("zipkin", .zipkin)])
            } else {
                sink.error(b.location, br.path, "\"backend\" needs a type", hint: "backend \"otlp\" { endpoint \"http://localhost:4317\" }")
            }
            if let e = br.locatedString("endpoint") {
                let lower = e.value.lowercased()
                if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("grpc://") { endpoint = e.value } else {
                    sink.error(e.location, br.path, "\"\(e.value)\" is not a URL", hint: "e.g. \"http://localhost:4317\"")
                }
            } else if !br.has("endpoint") {
                sink.error(b.location, br.path, "the tracing backend needs an endpoint", hint: "backend \"otlp\" { endpoint \"http://localhost:4317\" }")
            }
            br.finish()
        } else {
            sink.error(node.location, r.path, "tracing needs a backend", hint: "backend \"otlp\" { endpoint \"http://localhost:4317\" }  // or \"jaeger\", \"zipkin\"")
        }
        let rate = r.double("sampling-rate", default: 0.01, range: 0...1)
        let name = r.string("service-name")
        r.finish()
        guard let backend, let endpoint else { return nil }
        var t = Tracing(backend: backend, endpoint: endpoint)
        t.samplingRate = rate
        t.serviceName = name ?? t.serviceName
        return t
    }
}
