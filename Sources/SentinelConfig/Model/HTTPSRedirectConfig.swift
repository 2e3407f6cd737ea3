public import KDL

/// `redirect-to-https { port 443; host "www.example.com" }` on a plain HTTP listener: every
/// request is answered with 308 and `Location: https://<host>[:<port>]<path>[?<query>]`; no route
/// is consulted and nothing is proxied.
///
/// The host is the request's own (validated) Host, unless `host` pins one: the client is sent
/// back to the name it asked for, never to a name taken from anywhere else in the request.
public struct HTTPSRedirectConfig: Sendable, Hashable {
    /// The HTTPS port written into `Location` (443: none written).
    public var port: Int = 443
    /// A fixed host name for `Location` (nil: the request's Host, without its port).
    public var host: String?
    public var location: KDLSourceLocation

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> HTTPSRedirectConfig {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        var c = HTTPSRedirectConfig(location: node.location)
        c.port = r.int("port", default: 443, range: 1...65535)
        if let h = r.string("host") {
            if ListenerTLSConfig.isValidSNIPattern(h), !h.hasPrefix("*.") {
                c.host = h.lowercased()
            } else {
                sink.error(node.location, p, "redirect-to-https host \"\(h)\" is not a host name", hint: "write a DNS name such as \"www.example.com\"")
            }
        }
        r.finish()
        return c
    }
}

/// `hsts { max-age-secs 31536000; include-subdomains #true; preload #false }` on an HTTPS
/// listener: `Strict-Transport-Security` on every response of that listener (RFC 6797), never on
/// plain HTTP.
public struct HSTSConfig: Sendable, Hashable {
    /// One year, the minimum the browsers' preload lists accept.
    public static let defaultMaxAge: Int64 = 31_536_000
    public var maxAge: Int64 = defaultMaxAge
    public var includeSubdomains = false
    public var preload = false
    public var location: KDLSourceLocation

    /// The field value, e.g. `max-age=31536000; includeSubDomains; preload`.
    public var value: String {
        var v = "max-age=\(maxAge)"
        if includeSubdomains { v += "; includeSubDomains" }
        if preload { v += "; preload" }
        return v
    }

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> HSTSConfig {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        var c = HSTSConfig(location: node.location)
        c.maxAge = Int64(r.int("max-age-secs", "max-age", default: Int(defaultMaxAge), range: 0...Int64(Int32.max)))
        c.includeSubdomains = r.bool("include-subdomains", default: false)
        c.preload = r.bool("preload", default: false)
        r.finish()
        if c.preload, !c.includeSubdomains || c.maxAge < defaultMaxAge {
            sink.error(node.location, p, "hsts preload needs include-subdomains #true and max-age-secs of at least \(defaultMaxAge)",
                       hint: "the browsers' preload lists refuse anything less; drop preload or add include-subdomains #true")
        }
        return c
    }
}
