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
    public var location: KDLSourceLocation?

    public enum TraceIdFormat: String, Sendable, Hashable {
        case tinyflake
        case uuid
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
        r.finish()
        return s
    }
}
