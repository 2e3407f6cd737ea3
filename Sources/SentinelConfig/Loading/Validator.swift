import KDL

/// Cross-checks the whole configuration once every block has been read: duplicate ids,
/// references to things that do not exist, listeners that would collide, routes that serve
/// nothing. Everything is reported, never just the first problem.
struct Validator {
    let sink: DiagnosticSink

    /// The ids visible from one place in the configuration.
    struct Scope {
        var upstreams: Set<String> = []
        var filters: Set<String> = []
        var agents: Set<String> = []
        var listeners: Set<String> = []
        var filterKinds: [String: FilterConfig] = [:]

        func has(_ r: ConfigReference) -> Bool {
            switch r.kind {
            case .upstream: return upstreams.contains(r.id)
            case .filter: return filters.contains(r.id)
            case .agent: return agents.contains(r.id)
            case .listener: return listeners.contains(r.id)
            default: return true
            }
        }

        func names(_ kind: ConfigReference.Kind) -> [String] {
            switch kind {
            case .upstream: return upstreams.sorted()
            case .filter: return filters.sorted()
            case .agent: return agents.sorted()
            case .listener: return listeners.sorted()
            default: return []
            }
        }
    }

    /// What qualified references (`"ns:id"`, `"ns:svc:id"`) can name: each namespace's and each
    /// service's own ids, keyed `ns` and `ns:svc`.
    var qualified: [String: Scope] = [:]
    var namespaceIDs: [String] = []

    func validate(_ config: SentinelConfiguration) {
        var v = self
        for ns in config.namespaces {
            v.namespaceIDs.append(ns.id)
            v.qualified[ns.id] = Self.ownScope(upstreams: ns.upstreams, filters: ns.filters, agents: ns.agents)
            for svc in ns.services {
                v.qualified[ns.id + ":" + svc.id] = Self.ownScope(upstreams: svc.upstreams, filters: svc.filters, agents: svc.agents)
            }
        }
        v.checkReservedColons(config)
        v.validateScopes(config)
        v.checkProxyProtocol(config)
    }

    /// A PROXY protocol listener takes client addresses from its peers: only trusted ones.
    func checkProxyProtocol(_ config: SentinelConfiguration) {
        guard config.system.trustedProxies.isEmpty else { return }
        let all = config.listeners + config.namespaces.flatMap { $0.listeners + $0.services.flatMap(\.listeners) }
        for l in all where l.proxyProtocol {
            sink.error(l.proxyProtocolLocation ?? l.location, ConfigPath(["listeners", "listener \"\(l.id)\""]),
                       "proxy-protocol needs system { trusted-proxies }: the header is accepted only from trusted peers",
                       hint: "add trusted-proxies \"10.0.0.0/8\" (the load balancers' addresses) to the system block")
        }
    }

    static func ownScope(upstreams: [UpstreamConfig], filters: [FilterConfig], agents: [AgentConfig]) -> Scope {
        var s = Scope()
        s.upstreams = Set(upstreams.map(\.id))
        s.filters = Set(filters.map(\.id))
        s.agents = Set(agents.map(\.id))
        for f in filters { s.filterKinds[f.id] = f }
        return s
    }

    /// `:` separates the parts of a qualified reference, so it may not appear in the ids that
    /// references name, nor in namespace and service ids.
    func checkReservedColons(_ config: SentinelConfiguration) {
        func check(_ id: String, _ kind: String, _ location: KDLSourceLocation) {
            guard id.contains(":") else { return }
            sink.error(location, ConfigPath(), "\(kind) id \"\(id)\" contains \":\", which separates the parts of qualified references (\"namespace:id\", \"namespace:service:id\")",
                       hint: "use another character, e.g. \"\(id.replacingColons())\"")
        }
        func scope(_ u: [UpstreamConfig], _ f: [FilterConfig], _ a: [AgentConfig]) {
            for x in u { check(x.id, "upstream", x.location) }
            for x in f { check(x.id, "filter", x.location) }
            for x in a { check(x.id, "agent", x.location) }
        }
        scope(config.upstreams, config.filters, config.agents)
        for ns in config.namespaces {
            check(ns.id, "namespace", ns.location)
            scope(ns.upstreams, ns.filters, ns.agents)
            for svc in ns.services {
                check(svc.id, "service", svc.location)
                scope(svc.upstreams, svc.filters, svc.agents)
            }
        }
    }

    /// A qualified reference resolves exactly: `"ns:id"` to namespace `ns`'s own object,
    /// `"ns:svc:id"` to service `svc`'s in it (no walk through other scopes, no export needed).
    /// Reports a qualified reference that names nothing; returns whether `ref` is qualified.
    func resolveQualified(_ ref: ConfigReference) -> Bool {
        guard ref.id.contains(":") else { return false }
        let parts = ref.id.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, !parts.contains(where: \.isEmpty) else {
            sink.error(ref.location, ConfigPath([ref.path]), "\(ref.kind.rawValue) \"\(ref.id)\" is not a valid qualified reference",
                       hint: "write \"namespace:\(ref.kind.rawValue)-id\" or \"namespace:service:\(ref.kind.rawValue)-id\"")
            return true
        }
        let ns = parts[0]
        guard namespaceIDs.contains(ns) else {
            sink.error(ref.location, ConfigPath([ref.path]), "\(ref.kind.rawValue) \"\(ref.id)\": namespace \"\(ns)\" is not defined",
                       hint: Suggest.closest(to: ns, among: namespaceIDs).map { "did you mean \"\($0)\"?" })
            return true
        }
        let key = parts.dropLast().joined(separator: ":")
        guard let scope = qualified[key] else {
            let services = qualified.keys.filter { $0.hasPrefix(ns + ":") }.map { String($0.dropFirst(ns.count + 1)) }.sorted()
            sink.error(ref.location, ConfigPath([ref.path]), "\(ref.kind.rawValue) \"\(ref.id)\": namespace \"\(ns)\" has no service \"\(parts[1])\"",
                       hint: Suggest.closest(to: parts[1], among: services).map { "did you mean \"\(ns):\($0):\(parts[2])\"?" })
            return true
        }
        var local = ref
        local.id = parts.last!
        if !scope.has(local) {
            let where_ = parts.count == 2 ? "namespace \"\(ns)\"" : "service \"\(parts[1])\" of namespace \"\(ns)\""
            let names = scope.names(ref.kind)
            let hint = Suggest.closest(to: local.id, among: names).map { "did you mean \"\(key):\($0)\"?" }
                ?? (names.isEmpty ? nil : "defined there: " + names.map { "\"\($0)\"" }.joined(separator: ", "))
            sink.error(ref.location, ConfigPath([ref.path]), "\(ref.kind.rawValue) \"\(local.id)\" is not defined in \(where_)", hint: hint)
        }
        return true
    }

    /// The filter a route names (qualified or through the visible scopes).
    func filter(_ id: String, visible: [Scope]) -> FilterConfig? {
        if id.contains(":") {
            let parts = id.split(separator: ":").map(String.init)
            guard parts.count >= 2 else { return nil }
            return qualified[parts.dropLast().joined(separator: ":")]?.filterKinds[parts.last!]
        }
        for s in visible { if let f = s.filterKinds[id] { return f } }
        return nil
    }

    func validateScopes(_ config: SentinelConfiguration) {
        var exported = Scope()
        for ns in config.namespaces {
            for e in ns.exports {
                let known: Bool
                switch e.kind {
                case .upstream: known = ns.upstreams.contains { $0.id == e.id }; if known { exported.upstreams.insert(e.id) }
                case .filter: known = ns.filters.contains { $0.id == e.id }; if known { exported.filters.insert(e.id) }
                case .agent: known = ns.agents.contains { $0.id == e.id }; if known { exported.agents.insert(e.id) }
                default: known = true
                }
                if !known {
                    sink.error(e.location, ConfigPath([e.path]), "namespace \"\(ns.id)\" exports \(e.kind.rawValue) \"\(e.id)\", which it does not define")
                }
            }
        }
        let global = checkScope(
            listeners: config.listeners, routes: config.routes, upstreams: config.upstreams,
            filters: config.filters, agents: config.agents, outer: [exported], what: "")
        for ns in config.namespaces {
            let nsScope = checkScope(
                listeners: ns.listeners, routes: ns.routes, upstreams: ns.upstreams, filters: ns.filters,
                agents: ns.agents, outer: [exported, global], what: " in namespace \"\(ns.id)\"")
            checkDuplicates(ns.services.map { ($0.id, $0.location) }, kind: "service", scope: " in namespace \"\(ns.id)\"")
            for svc in ns.services {
                let svcScope = checkScope(
                    listeners: svc.listeners, routes: svc.routes, upstreams: svc.upstreams, filters: svc.filters,
                    agents: svc.agents, outer: [nsScope, exported, global], what: " in service \"\(svc.id)\"")
                if let ref = svc.listenerReference, ![svcScope, nsScope, global].contains(where: { $0.has(ref) }) {
                    dangling(ref, scopes: [nsScope, global])
                }
            }
        }
        checkDuplicates(config.namespaces.map { ($0.id, $0.location) }, kind: "namespace", scope: "")

        // Listener ids and addresses are process-wide, whatever scope declares them.
        var allListeners = config.listeners
        for ns in config.namespaces {
            allListeners += ns.listeners
            for svc in ns.services { allListeners += svc.listeners }
        }
        checkDuplicates(allListeners.map { ($0.id, $0.location) }, kind: "listener", scope: "")
        checkAddresses(allListeners)
        let namespaceIds = Set(config.namespaces.map(\.id))
        for l in allListeners {
            if let ns = l.namespace, !namespaceIds.contains(ns) {
                sink.error(l.namespaceLocation ?? l.location, ConfigPath(["listeners", "listener \"\(l.id)\""]),
                           "namespace \"\(ns)\" is not defined",
                           hint: Suggest.closest(to: ns, among: Array(namespaceIds)).map { "did you mean \"\($0)\"?" })
            }
            if let dr = l.defaultRoute {
                let routes = l.namespace.flatMap { ns in config.namespaces.first { $0.id == ns }?.routes } ?? config.routes
                if !routes.contains(where: { $0.id == dr }) {
                    sink.error(l.defaultRouteLocation ?? l.location, ConfigPath(["listeners", "listener \"\(l.id)\""]),
                               "default-route \"\(dr)\" is not defined",
                               hint: Suggest.closest(to: dr, among: routes.map(\.id)).map { "did you mean \"\($0)\"?" })
                }
            }
        }
        // Upstream TLS mTLS files, etc. are checked by `sentinel validate` (they need the file system).
    }

    /// Checks one scope's ids and references; returns the ids it defines.
    func checkScope(
        listeners: [ListenerConfig], routes: [RouteConfig], upstreams: [UpstreamConfig],
        filters: [FilterConfig], agents: [AgentConfig], outer: [Scope], what: String
    ) -> Scope {
        checkDuplicates(routes.map { ($0.id, $0.location) }, kind: "route", scope: what)
        checkDuplicates(upstreams.map { ($0.id, $0.location) }, kind: "upstream", scope: what)
        checkDuplicates(filters.map { ($0.id, $0.location) }, kind: "filter", scope: what)
        checkDuplicates(agents.map { ($0.id, $0.location) }, kind: "agent", scope: what)
        var scope = Scope()
        scope.upstreams = Set(upstreams.map(\.id))
        scope.filters = Set(filters.map(\.id))
        scope.agents = Set(agents.map(\.id))
        scope.listeners = Set(listeners.map(\.id))
        for f in filters { scope.filterKinds[f.id] = f }
        let visible = [scope] + outer

        func resolve(_ ref: ConfigReference) {
            if resolveQualified(ref) { return }
            if !visible.contains(where: { $0.has(ref) }) { dangling(ref, scopes: visible) }
        }
        for f in filters { f.references.forEach(resolve) }
        // A catch-all takes every request that reaches it: routes ranked after it never match.
        for c in routes where c.catchAll {
            let hidden = routes.filter { $0.priority < c.priority || ($0.catchAll && $0.priority == c.priority && $0.id != c.id) }
            guard !hidden.isEmpty else { continue }
            let names = hidden.prefix(5).map { "\"\($0.id)\"" }.joined(separator: ", ") + (hidden.count > 5 ? ", …" : "")
            sink.warning(c.location, ConfigPath(["routes", "route \"\(c.id)\""]),
                         "route \"\(c.id)\" has no matches and takes every request, so \(names) (lower priority) never match",
                         hint: "give the catch-all the lowest priority, e.g. priority \"low\"")
        }
        for route in routes {
            route.references.forEach(resolve)
            let hasRedirect = route.filters.contains { id in
                if let f = filter(id, visible: visible), case .redirect = f.kind { return true }
                return false
            }
            let servesItself = route.upstream != nil || route.staticFiles != nil || route.builtinHandler != nil
                || route.inference?.modelRouting?.defaultUpstream != nil || hasRedirect
            if !servesItself {
                sink.error(route.location, ConfigPath(["routes", "route \"\(route.id)\""]),
                           "route \"\(route.id)\" has nothing to serve it",
                           hint: "add upstream \"<id>\", static-files { root \"…\" } or builtin-handler \"…\"")
            }
        }
        return scope
    }

    func dangling(_ ref: ConfigReference, scopes: [Scope]) {
        var candidates: [String] = []
        for s in scopes { candidates += s.names(ref.kind) }
        var hint: String?
        if let near = Suggest.closest(to: ref.id, among: candidates) {
            hint = "did you mean \"\(near)\"?"
        } else if candidates.isEmpty {
            hint = "no \(ref.kind.rawValue) is defined; add one in the \(ref.kind.rawValue)s block"
        } else if candidates.count <= 8 {
            hint = "defined: " + candidates.map { "\"\($0)\"" }.joined(separator: ", ")
        }
        sink.error(ref.location, ConfigPath([ref.path]), "\(ref.kind.rawValue) \"\(ref.id)\" is not defined", hint: hint)
    }

    func checkDuplicates(_ items: [(String, KDLSourceLocation)], kind: String, scope: String) {
        var seen: [String: KDLSourceLocation] = [:]
        for (id, loc) in items {
            if let first = seen[id] {
                sink.error(loc, ConfigPath(), "duplicate \(kind) id \"\(id)\"\(scope) (first defined at \(first))",
                           hint: "ids must be unique; rename one of them")
            } else {
                seen[id] = loc
            }
        }
    }

    func checkAddresses(_ listeners: [ListenerConfig]) {
        for (i, a) in listeners.enumerated() {
            for b in listeners[..<i] where a.address.port == b.address.port && a.address.port != 0 {
                let wildcard: Set<String> = ["0.0.0.0", "::"]
                let sameFamily = a.address.isIPv6 == b.address.isIPv6
                if a.address.host == b.address.host || (sameFamily && (wildcard.contains(a.address.host) || wildcard.contains(b.address.host))) {
                    sink.error(a.location, ConfigPath(["listeners", "listener \"\(a.id)\""]),
                               "listener \"\(a.id)\" uses \(a.address), which overlaps listener \"\(b.id)\" (\(b.address)) at \(b.location)",
                               hint: "give each listener its own port")
                }
            }
        }
    }
}

extension String {
    func replacingColons() -> String { String(map { $0 == ":" ? "-" : $0 }) }
}
