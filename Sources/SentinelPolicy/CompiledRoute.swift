/// A `RouteSpec` with its patterns compiled and its strings normalised, ready to evaluate.
///
/// It exists so per-request matching does no parsing, lowercasing or regex compilation.
struct CompiledRoute: @unchecked Sendable {
    // @unchecked: holds immutable compiled `Regex` values that are only read after init.
    let declarationIndex: Int
    let priority: Int
    let specificity: Int
    let paths: [String]
    let prefixes: [String]
    let regexes: [Regex<AnyRegexOutput>]
    let hosts: [HostPattern]
    let headers: [RouteSpec.Header]
    let methods: [String]
    let queryParams: [RouteSpec.QueryParam]

    init(_ spec: RouteSpec, declarationIndex: Int) throws(RouterError) {
        if spec.hasNoConditions, !spec.matchesEverything { throw .noConditions(spec.id) }
        self.declarationIndex = declarationIndex
        priority = spec.priority
        specificity = spec.specificity
        paths = spec.paths
        prefixes = spec.pathPrefixes
        var regexes: [Regex<AnyRegexOutput>] = []
        for pattern in spec.pathRegexes {
            do {
                regexes.append(try Regex(pattern))
            } catch {
                throw .invalidPathRegex(spec.id, pattern: pattern, reason: "\(error)")
            }
        }
        self.regexes = regexes
        var hosts: [HostPattern] = []
        for pattern in spec.hosts { hosts.append(try HostPattern(pattern, routeID: spec.id)) }
        self.hosts = hosts
        headers = spec.headers.map { .init(name: $0.name.lowercased(), value: $0.value) }
        methods = spec.methods.map { $0.uppercased() }
        queryParams = spec.queryParams
    }

    var hasPathCondition: Bool { !paths.isEmpty || !prefixes.isEmpty || !regexes.isEmpty }

    /// Segment-aware prefix test (§5.1).
    static func prefix(_ prefix: String, matches path: String) -> Bool {
        guard path.hasPrefix(prefix) else { return false }
        let p = prefix.utf8
        let s = path.utf8
        if p.count == s.count || p.last == UInt8(ascii: "/") { return true }
        return s[s.index(s.startIndex, offsetBy: p.count)] == UInt8(ascii: "/")
    }

    /// All conditions: any-of within a kind, all kinds together.
    func matches(_ request: NormalizedRequest, query: inout [(name: String, value: String)]?) -> Bool {
        if !methods.isEmpty, !methods.contains(request.method) { return false }
        if hasPathCondition {
            let path = request.path
            let ok =
                paths.contains(path) || prefixes.contains { Self.prefix($0, matches: path) }
                || regexes.contains { (try? $0.firstMatch(in: path)) != nil }
            if !ok { return false }
        }
        if !hosts.isEmpty, !hosts.contains(where: { $0.matches(normalizedHost: request.host) }) { return false }
        if !headers.isEmpty {
            let ok = headers.contains { condition in
                let values = request.raw.headerValues(condition.name)
                guard let wanted = condition.value else { return !values.isEmpty }
                return values.contains(wanted)
            }
            if !ok { return false }
        }
        if !queryParams.isEmpty {
            if query == nil { query = QueryString.parse(request.raw.query) }
            let params = query!
            let ok = queryParams.contains { condition in
                params.contains { $0.name == condition.name && (condition.value == nil || $0.value == condition.value) }
            }
            if !ok { return false }
        }
        return true
    }
}

/// A request with method uppercased and host normalised once, shared by every route evaluated for it.
struct NormalizedRequest {
    let raw: RouteRequest
    let method: String
    let host: String
    var path: String { raw.path }

    init(_ raw: RouteRequest) {
        self.raw = raw
        method = raw.method.uppercased()
        host = HostPattern.normalize(raw.host)
    }
}
