import KDL

/// What `system { data-path "reactor" }` does not carry yet. The reactor data path serves
/// HTTP/1.1 listeners, plain and HTTPS, with Sentinel's own answers (builtin routes, redirects,
/// every refusal) and proxies to upstreams by address (plain or TLS); anything else (WebSocket
/// routes, upstream targets given by name) is refused at load, naming the route or upstream,
/// rather than served differently from the NIO path. This list
/// shrinks as the reactor grows (issue 13).
extension FeatureSupport {
    static func dataPath(_ config: SentinelConfiguration) -> [(String, KDLSourceLocation, ConfigPath)] {
        guard config.system.dataPath == .reactor else { return [] }
        let suffix = " with data-path \"reactor\""
        var out: [(String, KDLSourceLocation, ConfigPath)] = []
        func scope(_ listeners: [ListenerConfig], _ routes: [RouteConfig], _ prefix: [String]) {
            // The reactor reads the PROXY header in HTTP1ReactorDriver, inside its TLS layer: a
            // header before the handshake is not read there yet.
            for l in listeners where l.proxyProtocol && (l.tls != nil || l.proto == .https) {
                out.append(("proxy-protocol on TLS listeners" + suffix, l.proxyProtocolLocation ?? l.location,
                            ConfigPath(prefix + ["listeners", "listener \"\(l.id)\""])))
            }
            for r in routes {
                let p = ConfigPath(prefix + ["routes", "route \"\(r.id)\""])
                if r.websocket {
                    out.append(("WebSocket upgrades" + suffix, r.location, p))
                }
            }
        }
        // The reactor's upstream side (ReactorUpstreamTransport) connects to addresses: no name
        // resolution on the loop.
        func upstreams(_ list: [UpstreamConfig], _ prefix: [String]) {
            for u in list {
                let p = ConfigPath(prefix + ["upstreams", "upstream \"\(u.id)\""])
                for t in u.targets where !t.address.isIPLiteral {
                    out.append(("upstream targets given by name (\(t.address))" + suffix, t.location, p))
                }
            }
        }
        scope(config.listeners, config.routes, [])
        upstreams(config.upstreams, [])
        for ns in config.namespaces {
            scope(ns.listeners, ns.routes, ["namespace \"\(ns.id)\""])
            upstreams(ns.upstreams, ["namespace \"\(ns.id)\""])
            for svc in ns.services {
                scope(svc.listeners, svc.routes, ["namespace \"\(ns.id)\"", "service \"\(svc.id)\""])
                upstreams(svc.upstreams, ["namespace \"\(ns.id)\"", "service \"\(svc.id)\""])
            }
        }
        return out
    }
}
