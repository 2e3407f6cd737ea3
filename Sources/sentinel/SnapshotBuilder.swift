import SentinelConfig
import SentinelPolicy
import SentinelProxy

/// Compiles a validated configuration into the data plane's snapshot: the route table, the
/// listeners, the limits and the redacted configuration the `config` handler shows.
enum SnapshotBuilder {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func build(_ config: SentinelConfiguration, instanceID: String) throws(Failure) -> ServerSnapshot {
        var specs: [RouteSpec] = []
        var actions: [RouteAction] = []
        for (index, route) in config.routes.enumerated() {
            let m = route.match
            specs.append(
                RouteSpec(
                    id: route.id, priority: route.priority, paths: m.paths, pathPrefixes: m.pathPrefixes,
                    pathRegexes: m.pathRegexes, hosts: m.hosts,
                    headers: m.headers.map { RouteSpec.Header(name: $0.name, value: $0.value) },
                    methods: m.methods,
                    queryParams: m.queryParams.map { RouteSpec.QueryParam(name: $0.name, value: $0.value) },
                    handler: index))
            actions.append(.builtin(builtinKind(route.builtinHandler)))
        }
        let router: Router
        do {
            router = try Router(routes: specs)
        } catch {
            throw Failure(description: "route table: \(error)")
        }
        let listeners = config.listeners.map { l in
            ServerSnapshot.Listener(
                id: l.id, host: l.address.host, port: l.address.port, requestTimeout: l.requestTimeout,
                keepaliveTimeout: l.keepaliveTimeout, keepaliveMaxRequests: l.keepaliveMaxRequests)
        }
        let limits = ServerSnapshot.Limits(
            maxHeaderBytes: config.limits.maxHeaderSizeBytes, maxHeaderCount: config.limits.maxHeaderCount,
            maxURIBytes: config.limits.maxURILengthBytes,
            maxBodyBytes: Int(clamping: config.limits.maxBodySizeBytes),
            maxConnections: min(config.system.maxConnections, config.limits.maxTotalConnections))
        return ServerSnapshot(
            listeners: listeners, router: router, actions: actions, limits: limits,
            routeCacheSize: config.system.routeCacheSize, configJSON: RedactedConfig.json(config),
            instanceID: instanceID, version: SentinelVersion.full,
            traceIDFormat: config.system.traceIdFormat == .uuid ? .uuid : .tinyflake)
    }

    /// The feature gate admits only these builtins into a running configuration.
    static func builtinKind(_ handler: RouteConfig.BuiltinHandler?) -> BuiltinKind {
        switch handler {
        case .status: return .status
        case .health: return .health
        case .metrics: return .metrics
        case .config: return .config
        case .welcome: return .welcome
        case .notFound, .upstreams, .cachePurge, .cacheStats, nil: return .notFound
        }
    }
}

/// The configuration as the `config` builtin shows it: structure, ids and settings, with no
/// secret (keys, tokens, environment values) and no file contents.
enum RedactedConfig {
    static func json(_ c: SentinelConfiguration) -> String {
        let o = JSONWriter()
        o.object {
            o.field("schema_version", c.schemaVersion)
            o.field("files", c.files.count)
            o.key("system")
            o.object {
                o.field("worker_threads", c.system.workerThreads)
                o.field("max_connections", c.system.maxConnections)
                o.field("graceful_shutdown_timeout_secs", Int(c.system.gracefulShutdownTimeout.components.seconds))
                o.field("trace_id_format", c.system.traceIdFormat.rawValue)
            }
            o.key("listeners")
            o.array(c.listeners) { l in
                o.object {
                    o.field("id", l.id)
                    o.field("address", l.address.description)
                    o.field("protocol", l.proto.rawValue)
                }
            }
            o.key("routes")
            o.array(c.routes) { r in
                o.object {
                    o.field("id", r.id)
                    o.field("priority", r.priority)
                    if let h = r.builtinHandler { o.field("builtin_handler", h.rawValue) }
                    if let u = r.upstream { o.field("upstream", u) }
                    o.key("matches")
                    o.object {
                        if !r.match.paths.isEmpty { o.key("path"); o.strings(r.match.paths) }
                        if !r.match.pathPrefixes.isEmpty { o.key("path_prefix"); o.strings(r.match.pathPrefixes) }
                        if !r.match.pathRegexes.isEmpty { o.key("path_regex"); o.strings(r.match.pathRegexes) }
                        if !r.match.hosts.isEmpty { o.key("host"); o.strings(r.match.hosts) }
                        if !r.match.methods.isEmpty { o.key("method"); o.strings(r.match.methods) }
                    }
                }
            }
            o.key("limits")
            o.object {
                o.field("max_header_size_bytes", c.limits.maxHeaderSizeBytes)
                o.field("max_header_count", c.limits.maxHeaderCount)
                o.field("max_body_size_bytes", Int(c.limits.maxBodySizeBytes))
            }
        }
        return o.text
    }
}

/// A small JSON writer for log lines and builtin bodies.
final class JSONWriter {
    private(set) var text = ""
    private var needsComma = [false]

    private func separator() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
    }

    func object(_ body: () -> Void) {
        separator()
        text += "{"
        needsComma.append(false)
        body()
        needsComma.removeLast()
        text += "}"
    }

    func array<T>(_ items: [T], _ each: (T) -> Void) {
        separator()
        text += "["
        needsComma.append(false)
        for item in items { each(item) }
        needsComma.removeLast()
        text += "]"
    }

    func strings(_ items: [String]) {
        separator()
        text += "[" + items.map(Self.quote).joined(separator: ",") + "]"
    }

    /// Writes `"name":` — the value that follows must not add its own comma.
    func key(_ name: String) {
        separator()
        text += Self.quote(name) + ":"
        needsComma[needsComma.count - 1] = false
    }

    func field(_ name: String, _ value: String) {
        key(name)
        separator()
        text += Self.quote(value)
    }

    func field(_ name: String, _ value: Int) {
        key(name)
        separator()
        text += String(value)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
