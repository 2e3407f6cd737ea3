import KDL

/// What `system { data-path "reactor" }` does not carry yet. The reactor data path serves plain
/// HTTP/1.1 listeners with Sentinel's own answers (builtin routes, redirects, every refusal);
/// anything else is refused at load, naming the listener or route, rather than served
/// differently from the NIO path. This list shrinks as the reactor grows (issue 13).
extension FeatureSupport {
    static func dataPath(_ config: SentinelConfiguration) -> [(String, KDLSourceLocation, ConfigPath)] {
        guard config.system.dataPath == .reactor else { return [] }
        let suffix = " with data-path \"reactor\""
        var out: [(String, KDLSourceLocation, ConfigPath)] = []
        func scope(_ listeners: [ListenerConfig], _ routes: [RouteConfig], _ prefix: [String]) {
            for l in listeners where l.tls != nil || l.proto == .https {
                out.append(("TLS listeners" + suffix, l.location, ConfigPath(prefix + ["listeners", "listener \"\(l.id)\""])))
            }
            for r in routes {
                let p = ConfigPath(prefix + ["routes", "route \"\(r.id)\""])
                if r.websocket {
                    out.append(("WebSocket upgrades" + suffix, r.location, p))
                } else if r.upstream != nil || (r.builtinHandler == nil && r.fallback != nil) {
                    // The reactor's upstream side (connect, pool, response bytes) is being built.
                    out.append(("proxying to an upstream" + suffix + " (its upstream side is not built yet)", r.location, p))
                }
            }
        }
        scope(config.listeners, config.routes, [])
        for ns in config.namespaces {
            scope(ns.listeners, ns.routes, ["namespace \"\(ns.id)\""])
            for svc in ns.services { scope(svc.listeners, svc.routes, ["namespace \"\(ns.id)\"", "service \"\(svc.id)\""]) }
        }
        return out
    }
}
