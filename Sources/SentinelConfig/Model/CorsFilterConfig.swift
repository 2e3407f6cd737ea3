import KDL

/// `type "cors"`: answers CORS preflights and adds `Access-Control-*` headers.
///
/// The original read no options from KDL; Sentinel reads all of them, with the original's
/// defaults. `*` origins together with credentials is rejected (browsers refuse it, and
/// reflecting any origin with credentials would expose every user's data).
public struct CorsFilterConfig: Sendable, Hashable {
    /// `allowed-origins`: `"*"` or exact origins such as `"https://app.example.com"`.
    public var allowedOrigins = ["*"]
    /// `allowed-methods`: methods announced in preflight answers.
    public var allowedMethods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"]
    /// `allowed-headers`: request headers a cross-origin request may send (empty = none beyond the safelisted ones).
    public var allowedHeaders: [String] = []
    /// `exposed-headers`: response headers scripts may read.
    public var exposedHeaders: [String] = []
    /// `allow-credentials`: allow cookies and authorization on cross-origin requests.
    public var allowCredentials = false
    /// `max-age-secs`: how long browsers may cache a preflight answer.
    public var maxAge: Duration = .seconds(86_400)

    public init() {}

    /// True when any origin is allowed.
    public var allowsAnyOrigin: Bool { allowedOrigins.contains("*") }

    static func read(from r: inout NodeReader) -> CorsFilterConfig {
        var c = CorsFilterConfig()
        let sink = r.sink
        if let origins = r.commaList("allowed-origins", "allowed-origin", "origins") {
            var list: [String] = []
            for (o, location) in origins {
                if o == "*" || isOrigin(o) {
                    list.append(o == "*" ? o : o.lowercased())
                } else {
                    sink.error(location, r.path, "\"\(o)\" is not an origin",
                               hint: "an origin is scheme://host[:port] without a path or trailing slash, e.g. \"https://app.example.com\", or \"*\"")
                }
            }
            if list.contains("*"), list.count > 1 {
                sink.warning(r.locationOf("allowed-origins"), r.path, "\"*\" allows every origin; the other origins listed are redundant")
            }
            c.allowedOrigins = list
        }
        if let methods = r.commaList("allowed-methods", "methods") {
            var list: [String] = []
            for (m, location) in methods {
                if HTTPSyntax.isToken(m) { list.append(m == "*" ? m : m.uppercased()) } else {
                    sink.error(location, r.path, "\"\(m)\" is not an HTTP method")
                }
            }
            c.allowedMethods = list
        }
        c.allowedHeaders = headerList(&r, "allowed-headers") ?? c.allowedHeaders
        c.exposedHeaders = headerList(&r, "exposed-headers", "expose-headers") ?? c.exposedHeaders
        c.allowCredentials = r.bool("allow-credentials", default: c.allowCredentials)
        c.maxAge = r.duration("max-age-secs", "max-age", unit: .seconds, default: c.maxAge)!
        if c.allowCredentials {
            for (key, values) in [("allowed-origins", c.allowedOrigins), ("allowed-headers", c.allowedHeaders),
                                  ("exposed-headers", c.exposedHeaders), ("allowed-methods", c.allowedMethods)] where values.contains("*") {
                let at = r.has(key) ? r.locationOf(key) : r.locationOf("allow-credentials")
                sink.error(at, r.path, "\"*\" in \(key) cannot be combined with allow-credentials #true",
                           hint: key == "allowed-origins"
                               ? "list the trusted origins explicitly (allowed-origins defaults to \"*\")"
                               : "list the \(key == "allowed-methods" ? "methods" : "headers") explicitly")
            }
        }
        return c
    }

    private static func headerList(_ r: inout NodeReader, _ names: String...) -> [String]? {
        guard let items = r.commaList(names) else { return nil }
        var result: [String] = []
        for (h, location) in items where h == "*" || HTTPSyntax.checkHeaderName(h, at: location, r.path, r.sink) {
            result.append(h)
        }
        return result
    }

    /// `scheme://host[:port]`, scheme http or https (other schemes are allowed when they look
    /// like `scheme://something`), no path, no trailing slash, no whitespace.
    static func isOrigin(_ s: String) -> Bool {
        let parts = s.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].hasPrefix("//") else { return false }
        let scheme = parts[0]
        let rest = parts[1].dropFirst(2)
        guard !scheme.isEmpty, scheme.allSatisfy({ c in c.isASCII && (c.isLetter || c.isNumber || c == "+" || c == "-" || c == ".") }) else {
            return false
        }
        let forbidden: Set<Character> = ["/", " ", ",", "?", "#", "\t"]
        return !rest.isEmpty && !rest.contains(where: { forbidden.contains($0) })
    }
}
