/// `type "redirect"`: answers with a redirect instead of proxying (Gateway API RequestRedirect).
/// What is not configured is kept from the request: the scheme (the listener's), the host, the
/// port (or the scheme's well-known port when only the scheme changes), the path, the query.
///
/// No open redirect through client input: the host is the configured `hostname`, or the host
/// the client already asked for (which must be a plain host name or address); the path is the
/// configured one or the request's own, which always starts with a single `/` after the host, so
/// the `Location` can only ever point at the host the operator chose or the client named.
public struct RedirectRule: Sendable, Equatable {
    public var statusCode: Int
    public var scheme: String?
    public var hostname: String?
    public var port: Int?
    public var path: PathReplacement?
    /// The route's `path-prefix` conditions (for `replace-prefix-match`).
    public var routePrefixes: [String]

    public init(statusCode: Int, scheme: String?, hostname: String?, port: Int?, path: PathReplacement?, routePrefixes: [String]) {
        self.statusCode = statusCode
        self.scheme = scheme
        self.hostname = hostname
        self.port = port
        self.path = path
        self.routePrefixes = routePrefixes
    }

    /// The `Location` for a request; nil when the request's own host must be used and is not a
    /// plain host (then the request is refused with 400 instead of redirected somewhere odd).
    func location(scheme requestScheme: String, authority: String, path: String, query: String) -> String? {
        // The request's host is needed (and must be plain) only when no hostname is configured.
        let parsed = HostSyntax.split(authority)
        guard hostname != nil || parsed != nil else { return nil }
        let requestHost = parsed ?? ("", nil)
        let scheme = self.scheme ?? requestScheme
        let host = hostname ?? requestHost.host
        // Gateway API: an explicit port wins; a changed scheme takes its well-known port; else the request's.
        let port: Int?
        if let p = self.port { port = p } else if self.scheme != nil { port = nil } else { port = requestHost.port }
        let wellKnown = scheme == "https" ? 443 : 80
        var location = scheme + "://" + host
        if let port, port != wellKnown { location += ":" + String(port) }
        var newPath = self.path?.apply(to: path, prefixes: routePrefixes) ?? path
        // "//evil" after the authority is still this host's path, but never hand a client a
        // protocol-relative-looking path.
        while newPath.hasPrefix("//") { newPath.removeFirst() }
        if !newPath.hasPrefix("/") { newPath = "/" + newPath }
        location += newPath
        if !query.isEmpty { location += "?" + query }
        return location
    }
}

struct RedirectFilter: RequestFilter {
    let rule: RedirectRule

    func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
        guard let location = rule.location(scheme: request.scheme, authority: request.facts.host, path: request.facts.path, query: request.facts.query)
        else {
            return .answer(LocalAnswer(status: 400, content: .error, keepAlive: true))
        }
        return .answer(LocalAnswer(status: rule.statusCode, content: .empty, fields: [.init(name: "Location", value: location)], keepAlive: true))
    }
}

/// `type "url-rewrite"`: changes the path and/or the `Host` of the request sent upstream
/// (Gateway API URLRewrite). The client's original host still goes upstream in
/// `X-Forwarded-Host` / `Forwarded`.
public struct URLRewriteRule: Sendable, Equatable {
    public var hostname: String?
    public var path: PathReplacement?
    public var routePrefixes: [String]

    public init(hostname: String?, path: PathReplacement?, routePrefixes: [String]) {
        self.hostname = hostname
        self.path = path
        self.routePrefixes = routePrefixes
    }
}

struct URLRewriteFilter: RequestFilter {
    let rule: URLRewriteRule

    func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
        if let path = rule.path {
            var newPath = path.apply(to: request.facts.path, prefixes: rule.routePrefixes)
            while newPath.hasPrefix("//") { newPath.removeFirst() }
            effects.target = request.facts.query.isEmpty ? newPath : newPath + "?" + request.facts.query
        }
        if let host = rule.hostname { effects.host = host }
        return .next
    }
}

extension FilterChain.Entry {
    /// A `redirect` filter.
    public static func redirect(id: String, _ rule: RedirectRule) -> FilterChain.Entry {
        FilterChain.Entry(id: id, type: "redirect", filter: RedirectFilter(rule: rule))
    }

    /// A `url-rewrite` filter.
    public static func urlRewrite(id: String, _ rule: URLRewriteRule) -> FilterChain.Entry {
        FilterChain.Entry(id: id, type: "url-rewrite", filter: URLRewriteFilter(rule: rule))
    }
}
