public import KDL

/// The conditions of a route (`matches { … }`).
///
/// Conditions of the same kind are ORed (two `path-prefix` lines match either prefix) and
/// different kinds are ANDed (a path and a method must both hold). The original ANDed
/// everything except hosts, so a route with two `path` lines could never match; its own
/// default config and examples clearly meant OR.
public struct RouteMatch: Sendable, Hashable {
    public struct Condition: Sendable, Hashable {
        public var name: String
        /// nil means "present".
        public var value: String?
    }

    public var paths: [String] = []
    public var pathPrefixes: [String] = []
    public var pathRegexes: [String] = []
    public var hosts: [String] = []
    public var headers: [Condition] = []
    public var methods: [String] = []
    public var queryParams: [Condition] = []
    public var location: KDLSourceLocation

    public var isEmpty: Bool {
        paths.isEmpty && pathPrefixes.isEmpty && pathRegexes.isEmpty && hosts.isEmpty && headers.isEmpty
            && methods.isEmpty && queryParams.isEmpty
    }

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> RouteMatch {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        r.childNoun = "condition"
        var m = RouteMatch(location: node.location)
        for c in r.all("path") {
            for v in strings(c, p, sink, min: 1, max: nil) {
                if !v.value.hasPrefix("/") && v.value != "*" {
                    sink.error(v.location, p.appending(c), "path \"\(v.value)\" must start with \"/\"")
                }
                m.paths.append(v.value)
            }
        }
        for c in r.all("path-prefix") {
            for v in strings(c, p, sink, min: 1, max: nil) {
                if !v.value.hasPrefix("/") { sink.error(v.location, p.appending(c), "path-prefix \"\(v.value)\" must start with \"/\"") }
                m.pathPrefixes.append(v.value)
            }
        }
        for c in r.all("path-regex") {
            for v in strings(c, p, sink, min: 1, max: nil) {
                if let problem = RegexCheck.problem(in: v.value) {
                    sink.error(v.location, p.appending(c), "path-regex \"\(v.value)\" is not a valid regular expression: \(problem)")
                }
                m.pathRegexes.append(v.value)
            }
        }
        for c in r.all("host") {
            for v in strings(c, p, sink, min: 1, max: nil) {
                if !isValidHostPattern(v.value) {
                    sink.error(v.location, p.appending(c), "host \"\(v.value)\" is not a valid host name or pattern",
                               hint: "write a name (api.example.com) or a wildcard (*.example.com), without scheme or port")
                }
                m.hosts.append(v.value.lowercased())
            }
        }
        for c in r.all("header") {
            let vs = strings(c, p, sink, min: 1, max: 2)
            guard let name = vs.first else { continue }
            if !HeaderName.isValid(name.value) {
                sink.error(name.location, p.appending(c), "\"\(name.value)\" is not a valid header name")
            }
            m.headers.append(Condition(name: name.value.lowercased(), value: vs.count > 1 ? vs[1].value : nil))
        }
        for c in r.all("method", "methods") {
            for v in strings(c, p, sink, min: 1, max: nil) {
                let upper = v.value.uppercased()
                if !HeaderName.isValid(upper) { sink.error(v.location, p.appending(c), "\"\(v.value)\" is not a valid HTTP method") }
                if !m.methods.contains(upper) { m.methods.append(upper) }
            }
        }
        for c in r.all("query-param", "query") {
            let vs = strings(c, p, sink, min: 1, max: 2)
            guard let name = vs.first else { continue }
            m.queryParams.append(Condition(name: name.value, value: vs.count > 1 ? vs[1].value : nil))
        }
        r.finish()
        return m
    }

    /// The string arguments of a condition node, with arity checks.
    static func strings(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink, min: Int, max: Int?) -> [(value: String, location: KDLSourceLocation)] {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        let args = r.arguments()
        r.finish()
        if args.count < min {
            sink.error(node.location, r.path, "\"\(node.name)\" needs a value")
            return []
        }
        if let max, args.count > max {
            sink.error(args[max].location, r.path, "\"\(node.name)\" takes at most \(max) values, got \(args.count)")
        }
        let values = ValueReader(sink: sink, path: r.path, key: node.name)
        return args.prefix(max ?? args.count).compactMap { a in values.string(a).map { ($0, a.location) } }
    }

    static func isValidHostPattern(_ h: String) -> Bool {
        guard !h.isEmpty, !h.contains("/"), !h.contains(" ") else { return false }
        if h.contains("[") || h.contains("*") && !h.hasPrefix("*.") { return RegexCheck.problem(in: h) == nil }
        return ListenerTLSConfig.isValidSNIPattern(h)
    }
}

/// RFC 9110 token rules for header names and methods.
enum HeaderName {
    static func isValid(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(isTokenByte)
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}

/// Checks a regular expression with the standard library's engine, so a bad pattern is a
/// config error and not a failure at request time.
enum RegexCheck {
    static func problem(in pattern: String) -> String? {
        do {
            _ = try Regex(pattern)
            return nil
        } catch {
            return "\(error)"
        }
    }
}
