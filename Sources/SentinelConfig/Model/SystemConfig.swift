public import KDL

/// Process-wide settings (`system { … }`; `server { … }` is the deprecated spelling).
public struct SystemConfig: Sendable, Hashable {
    /// Event loops per process; 0 means one per CPU core.
    public var workerThreads: Int = 0
    /// Worker processes started by `sentinel-stack up`; nil means derive from the CPU count.
    /// (`sentinel` in single-process mode ignores it.)
    public var workerProcesses: Int?
    /// Client connections accepted at once per process; further connections wait in the
    /// kernel's accept queue.
    public var maxConnections: Int = 10_000
    /// How long a graceful stop or reload waits for in-flight requests before cutting them off.
    public var gracefulShutdownTimeout: Duration = .seconds(30)
    public var daemon: Bool = false
    public var pidFile: String?
    public var user: String?
    public var group: String?
    public var workingDirectory: String?
    public var traceIdFormat: TraceIdFormat = .tinyflake
    /// Watch the configuration files and reload when they change.
    public var autoReload: Bool = false
    public var routeCacheSize: Int = 1000
    /// Directory for the control socket and pid file of `sentinel-stack`.
    public var runtimeDirectory: String?
    /// The pseudonym of Sentinel's `Via` element (RFC 9110 §7.6.3) on forwarded requests and
    /// responses; nil (`via #false`) adds none. A Sentinel addition: the original had no Via.
    public var via: String? = "sentinel"
    /// Peers whose forwarding fields (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`) are kept and
    /// extended; from any other peer they are replaced. Empty: trust no peer. A Sentinel addition.
    public var trustedProxies: [IPRange] = []
    /// Which event loop carries the data path: SwiftNIO (the default until the reactor wins the
    /// benchmarks) or Sentinel's own reactor (issue 13). A Sentinel addition.
    public var dataPath: DataPath = .nio
    public var location: KDLSourceLocation?

    public enum TraceIdFormat: String, Sendable, Hashable {
        case tinyflake
        case uuid
    }

    public enum DataPath: String, Sendable, Hashable {
        case nio
        case reactor
    }

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> SystemConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var s = SystemConfig()
        s.location = node.location
        s.workerThreads = r.int("worker-threads", default: 0, range: 0...1024)
        s.workerProcesses = r.int("worker-processes", "workers", range: 1...1024)
        s.maxConnections = r.int("max-connections", default: s.maxConnections, range: 1...10_000_000)
        s.gracefulShutdownTimeout = r.duration(
            "graceful-shutdown-timeout-secs", "graceful-shutdown-timeout", unit: .seconds,
            default: s.gracefulShutdownTimeout)!
        s.daemon = r.bool("daemon", default: false)
        s.pidFile = r.string("pid-file")
        s.user = r.string("user")
        s.group = r.string("group")
        s.workingDirectory = r.string("working-directory")
        s.traceIdFormat = r.choice("trace-id-format", default: .tinyflake, options: [("tinyflake", .tinyflake), ("uuid", .uuid)])
        s.autoReload = r.bool("auto-reload", default: false)
        s.routeCacheSize = r.int("route-cache-size", default: s.routeCacheSize, range: 1...10_000_000)
        s.runtimeDirectory = r.string("runtime-directory")
        s.dataPath = r.choice("data-path", default: .nio, options: [("nio", .nio), ("reactor", .reactor)])
        if let v = r.scalar(["via"]) {
            s.via = readVia(v, path: path.appending(node), sink: sink)
        }
        for child in r.all("trusted-proxies") {
            s.trustedProxies += IPRange.readList(child, path: path.appending(node), sink: sink)
        }
        // Read by hand (a string or #false; addresses checked one by one): recorded with the
        // value kinds they take, so the schema tests probe them like any string and list.
        r.trace(["via"], .string)
        r.trace(["trusted-proxies"], .stringList)
        r.finish()
        return s
    }

    /// `via "name"` (an RFC 9110 token) or `via #false`.
    static func readVia(_ v: KDLValue, path: ConfigPath, sink: DiagnosticSink) -> String? {
        if v.boolValue == false { return nil }
        guard let name = v.stringValue else {
            sink.error(
                v.location, path, "\"via\" must be a pseudonym string or #false, got \(v.typeName) \(NodeReader.show(v))",
                hint: "write via \"sentinel\" (the name in Via: 1.1 sentinel) or via #false (no Via element)")
            return "sentinel"
        }
        guard !name.isEmpty, name.utf8.count <= 64, name.utf8.allSatisfy(HeaderName.isTokenByte) else {
            sink.error(
                v.location, path, "\"via\" must be 1-64 token characters (letters, digits, !#$%&'*+-.^_`|~), got \(NodeReader.show(v))",
                hint: "for example: via \"edge-1\"")
            return "sentinel"
        }
        return name
    }
}
