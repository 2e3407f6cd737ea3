/// Where the configuration comes from: `--config FILE`, else `SENTINEL_CONFIG`, else the
/// configuration compiled into the binary (the same text as config/sentinel.kdl).
public enum ConfigSource: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case builtinDefault

    public static func resolve(flag: String?, environment: [String: String]) -> ConfigSource {
        if let flag, !flag.isEmpty { return .file(flag) }
        if let env = environment["SENTINEL_CONFIG"], !env.isEmpty { return .file(env) }
        return .builtinDefault
    }

    public var description: String {
        switch self {
        case .file(let path): return path
        case .builtinDefault: return "<built-in default>"
        }
    }

    public func load(host: ConfigHost = .proxy) -> Result<ConfigLoader.Loaded, ConfigError> {
        switch self {
        case .file(let path): return ConfigLoader.load(file: path, host: host)
        case .builtinDefault: return ConfigLoader.load(text: DefaultConfig.text, file: "<built-in default>", host: host)
        }
    }
}

extension ConfigSummary {
    /// One line per kind, for `sentinel test`.
    public init(_ c: SentinelConfiguration) {
        var listeners = c.listeners.count
        var routes = c.routes.count
        var upstreams = c.upstreams.count
        var filters = c.filters.count
        var agents = c.agents.count
        for ns in c.namespaces {
            listeners += ns.listeners.count; routes += ns.routes.count; upstreams += ns.upstreams.count
            filters += ns.filters.count; agents += ns.agents.count
            for s in ns.services {
                listeners += s.listeners.count; routes += s.routes.count; upstreams += s.upstreams.count
                filters += s.filters.count; agents += s.agents.count
            }
        }
        self.init(files: c.files.count, listeners: listeners, routes: routes, upstreams: upstreams,
                  filters: filters, agents: agents, namespaces: c.namespaces.count)
    }
}

/// Counts shown after a successful test.
public struct ConfigSummary: Sendable, Equatable, CustomStringConvertible {
    public var files, listeners, routes, upstreams, filters, agents, namespaces: Int

    public init(files: Int, listeners: Int, routes: Int, upstreams: Int, filters: Int, agents: Int, namespaces: Int) {
        self.files = files; self.listeners = listeners; self.routes = routes; self.upstreams = upstreams
        self.filters = filters; self.agents = agents; self.namespaces = namespaces
    }

    public var description: String {
        func n(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }
        var parts = [n(listeners, "listener"), n(routes, "route"), n(upstreams, "upstream"), n(filters, "filter"), n(agents, "agent")]
        if namespaces > 0 { parts.append(n(namespaces, "namespace")) }
        return parts.joined(separator: ", ") + " (from \(n(files, "file")))"
    }
}
