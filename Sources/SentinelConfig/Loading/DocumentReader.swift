import KDL

/// Turns the top-level nodes of a configuration (includes already expanded) into a
/// `SentinelConfiguration`, reporting every problem to the sink.
struct DocumentReader {
    let sink: DiagnosticSink

    /// The repeatable blocks shared by the top level, namespaces and services.
    struct Scope {
        var listeners: [ListenerConfig] = []
        var routes: [RouteConfig] = []
        var upstreams: [UpstreamConfig] = []
        var filters: [FilterConfig] = []
        var agents: [AgentConfig] = []
    }

    static let topLevelNames = [
        "schema-version", "version", "system", "server", "listeners", "routes", "upstreams", "filters", "agents",
        "waf", "namespace", "limits", "observability", "rate-limits", "cache", "include",
    ]

    func read(_ nodes: [KDLNode]) -> SentinelConfiguration {
        var config = SentinelConfiguration()
        var scope = Scope()
        var singletons: [String: KDLSourceLocation] = [:]
        let root = ConfigPath()

        func once(_ node: KDLNode, _ canonical: String) -> Bool {
            if let first = singletons[canonical] {
                sink.error(node.location, root, "\"\(canonical)\" block given more than once (first at \(first))",
                           hint: "merge the two blocks into one")
                return false
            }
            singletons[canonical] = node.location
            return true
        }

        var sawSystem = false
        for node in nodes {
            switch node.name {
            case "schema-version", "version":
                guard once(node, "schema-version") else { continue }
                config.schemaVersion = readSchemaVersion(node)
            case "system", "server":
                guard once(node, "system") else { continue }
                if node.name == "server" {
                    sink.warning(node.location, root, "\"server\" is the deprecated name of \"system\"", hint: "rename it to system")
                }
                sawSystem = true
                config.system = SystemConfig.read(node, path: root, sink: sink)
            case "listeners", "routes", "upstreams", "filters", "agents":
                readBlock(node, path: root, into: &scope)
            case "limits":
                guard once(node, "limits") else { continue }
                config.limits = LimitsConfig.read(node, path: root, sink: sink)
            case "observability":
                guard once(node, "observability") else { continue }
                config.observability = ObservabilityConfig.read(node, path: root, sink: sink)
            case "rate-limits":
                guard once(node, "rate-limits") else { continue }
                config.rateLimits = RateLimitsConfig.read(node, path: root, sink: sink)
            case "cache":
                guard once(node, "cache") else { continue }
                config.cache = CacheStorageConfig.read(node, path: root, sink: sink)
            case "waf":
                guard once(node, "waf") else { continue }
                config.waf = WafConfig.read(node, path: root, sink: sink)
            case "namespace":
                if let ns = readNamespace(node, path: root) { config.namespaces.append(ns) }
            case "include":
                // Expanded by the loader; one left here came from text with no file behind it.
                sink.error(node.location, root, "include is only allowed in configuration files",
                           hint: "load the configuration from a file so relative include paths can be resolved")
            default:
                sink.error(node.location, root, "unknown top-level block \"\(node.name)\"",
                           hint: StaleKeys.hint(parent: root, key: node.name) ?? Suggest.hint(for: node.name, among: Self.topLevelNames, kind: "block"))
            }
        }
        if !sawSystem {
            let at = nodes.first?.location ?? KDLSourceLocation(file: sink.mainFile, line: 1, column: 1)
            sink.error(at, root, "the configuration has no system block", hint: "add: system { worker-threads 0 }")
        }
        for (name, location) in singletons { config.blockLocations[name] = location }
        for node in nodes where node.name == "observability" {
            for child in node.children {
                config.blockLocations["observability.\(child.name)"] = child.location
                for grandchild in child.children { config.blockLocations["observability.\(child.name).\(grandchild.name)"] = grandchild.location }
            }
        }
        config.listeners = scope.listeners
        config.routes = scope.routes
        config.upstreams = scope.upstreams
        config.filters = scope.filters
        config.agents = scope.agents
        let anyListener = !scope.listeners.isEmpty || config.namespaces.contains { !$0.listeners.isEmpty || $0.services.contains { !$0.listeners.isEmpty } }
        if !anyListener, !nodes.contains(where: { $0.name == "listeners" }) {
            let at = nodes.first?.location ?? KDLSourceLocation(file: sink.mainFile, line: 1, column: 1)
            sink.error(at, root, "the configuration has no listeners",
                       hint: "add: listeners { listener \"http\" { address \"0.0.0.0:8080\"; protocol \"http\" } }")
        }
        return config
    }

    func readSchemaVersion(_ node: KDLNode) -> String {
        let p = ConfigPath().appending(node)
        guard let v = NodeReader.scalarValue(of: node, path: ConfigPath(), sink: sink) else { return "1.0" }
        let text: String
        if let s = v.stringValue { text = s } else if let n = v.numberValue { text = n.canonical } else {
            sink.error(v.location, p, "schema-version must be a string such as \"1.0\"")
            return "1.0"
        }
        let parts = text.split(separator: ".")
        guard parts.count <= 2, let major = Int(parts[0]), parts.count == 1 || Int(parts[1]) != nil else {
            sink.error(v.location, p, "schema-version \"\(text)\" is not MAJOR.MINOR", hint: "write schema-version \"1.0\"")
            return "1.0"
        }
        let minor = parts.count == 2 ? Int(parts[1])! : 0
        let supported = SentinelConfiguration.supportedSchemaVersion
        if major != supported.major || minor > supported.minor {
            sink.error(v.location, p, "schema-version \"\(text)\" is not supported; this Sentinel reads \(supported.major).\(supported.minor)",
                       hint: major > supported.major || minor > supported.minor ? "upgrade Sentinel, or write the configuration for schema 1.0" : nil)
        }
        return text
    }

    /// `listeners { listener … }`, `routes { route … }` and so on, appended to `scope`.
    func readBlock(_ node: KDLNode, path: ConfigPath, into scope: inout Scope) {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        switch node.name {
        case "listeners":
            r.childNoun = "entry (expected listener)"
            for n in r.all("listener") { if let l = ListenerConfig.read(n, path: p, sink: sink) { scope.listeners.append(l) } }
        case "routes":
            r.childNoun = "entry (expected route)"
            for n in r.all("route") { if let x = RouteConfig.read(n, path: p, sink: sink) { scope.routes.append(x) } }
        case "upstreams":
            r.childNoun = "entry (expected upstream)"
            for n in r.all("upstream") { if let x = UpstreamConfig.read(n, path: p, sink: sink) { scope.upstreams.append(x) } }
        case "filters":
            r.childNoun = "entry (expected filter)"
            for n in r.all("filter") { if let x = FilterConfig.read(n, path: p, sink: sink) { scope.filters.append(x) } }
        case "agents":
            r.childNoun = "entry (expected agent)"
            for n in r.all("agent") { if let x = AgentConfig.read(n, path: p, sink: sink) { scope.agents.append(x) } }
        default:
            break
        }
        r.finish()
    }

    func readNamespace(_ node: KDLNode, path: ConfigPath) -> NamespaceConfig? {
        let id = node.arguments.first?.stringValue
        let p = path.appending(node, id: id ?? "?")
        var r = NodeReader(node, path: p, sink: sink)
        guard r.identifier("namespace") != nil, let id else { r.finish(); return nil }
        var ns = NamespaceConfig(id: id, location: node.location)
        var scope = Scope()
        for b in r.all("listeners", "routes", "upstreams", "filters", "agents") { readBlock(b, path: p, into: &scope) }
        if let l = r.single("limits") { ns.limits = LimitsConfig.read(l, path: p, sink: sink) }
        for s in r.all("service") { if let svc = readService(s, path: p) { ns.services.append(svc) } }
        if let e = r.single("exports") {
            let ep = p.appending(e)
            var er = NodeReader(e, path: ep, sink: sink)
            for (name, kind) in [("upstreams", ConfigReference.Kind.upstream), ("filters", .filter), ("agents", .agent)] {
                for n in er.all(name) {
                    var nr = NodeReader(n, path: ep.appending(n), sink: sink)
                    for a in nr.arguments() {
                        if let s = ValueReader(sink: sink, path: nr.path, key: name).string(a) {
                            ns.exports.append(ConfigReference(kind: kind, id: s, location: a.location, path: nr.path.description))
                        }
                    }
                    nr.finish()
                }
            }
            er.finish()
        }
        r.finish()
        ns.listeners = scope.listeners
        ns.routes = scope.routes
        ns.upstreams = scope.upstreams
        ns.filters = scope.filters
        ns.agents = scope.agents
        return ns
    }

    func readService(_ node: KDLNode, path: ConfigPath) -> ServiceConfig? {
        let id = node.arguments.first?.stringValue
        let p = path.appending(node, id: id ?? "?")
        var r = NodeReader(node, path: p, sink: sink)
        guard r.identifier("service") != nil, let id else { r.finish(); return nil }
        var svc = ServiceConfig(id: id, location: node.location)
        var scope = Scope()
        for b in r.all("listeners", "routes", "upstreams", "filters", "agents") { readBlock(b, path: p, into: &scope) }
        if let l = r.single("limits") { svc.limits = LimitsConfig.read(l, path: p, sink: sink) }
        if let l = r.single("listener") {
            if l.children.isEmpty, l.arguments.count == 1, let ref = l.arguments[0].stringValue {
                // `listener "public"`: a reference to an existing listener.
                svc.listenerReference = ConfigReference(kind: .listener, id: ref, location: l.arguments[0].location, path: p.description)
            } else if let def = ListenerConfig.read(l, path: p, sink: sink) {
                scope.listeners.append(def)
            }
        }
        r.finish()
        svc.listeners = scope.listeners
        svc.routes = scope.routes
        svc.upstreams = scope.upstreams
        svc.filters = scope.filters
        svc.agents = scope.agents
        return svc
    }
}
