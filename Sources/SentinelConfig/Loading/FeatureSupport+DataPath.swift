import KDL

/// What `system { data-path "reactor" }` does not carry yet. The reactor data path serves plain
/// HTTP/1.1 listeners, Sentinel's own answers, and proxying to plain HTTP/1.1 upstreams given by
/// address; anything else is refused at load, naming the listener, route or upstream, rather
/// than served differently from the NIO path. This list shrinks as the reactor grows (issue 13).
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
                if r.websocket { out.append(("WebSocket upgrades" + suffix, r.location, p)) }
            }
        }
        func upstreams(_ list: [UpstreamConfig], _ prefix: [String]) {
            for u in list {
                let p = ConfigPath(prefix + ["upstreams", "upstream \"\(u.id)\""])
                if u.tls != nil { out.append(("upstream TLS" + suffix, u.location, p)) }
                // The reactor connects to addresses; names are resolved by NIO's bootstrap only.
                if u.targets.contains(where: { !Self.isIPLiteral($0.address.host) }) {
                    out.append(("upstream targets given by name" + suffix + " (give an IP address)", u.location, p))
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

    /// `127.0.0.1`, `::1`, `[::1]`: an address, not a name.
    static func isIPLiteral(_ host: String) -> Bool {
        let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if h.contains(":") { return h.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) && Int(p)! <= 255 }
    }
}
