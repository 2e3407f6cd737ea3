import KDL

/// `type "redirect"`: answers with a redirect instead of proxying (Gateway API RequestRedirect).
/// Parts that are not set are kept from the request.
public struct RedirectFilterConfig: Sendable, Hashable {
    /// `status-code`: 301, 302 (default), 303, 307 or 308.
    public var statusCode = 302
    /// `hostname`: the host of the new location.
    public var hostname: String?
    /// `scheme`: `http` or `https`.
    public var scheme: String?
    /// `port`: the port of the new location.
    public var port: Int?
    /// `replace-full-path` / `replace-prefix-match`.
    public var path: PathRewrite?

    public init() {}

    static func read(from r: inout NodeReader) -> RedirectFilterConfig {
        var c = RedirectFilterConfig()
        if let v = r.scalar(["status-code"]), let code = ValueReader(sink: r.sink, path: r.path, key: "status-code").int(v, range: 300...399) {
            if [301, 302, 303, 307, 308].contains(code) { c.statusCode = code } else {
                r.sink.error(v.location, r.path, "\(code) is not a redirect status", hint: "use 301, 302, 303, 307 or 308")
            }
        }
        c.hostname = readHostname(&r)
        c.scheme = r.choice("scheme", options: [("http", "http"), ("https", "https")])
        c.port = r.int("port", range: 1...65_535)
        c.path = PathRewrite.read(from: &r)
        return c
    }

    static func readHostname(_ r: inout NodeReader) -> String? {
        guard let h = r.locatedString("hostname") else { return nil }
        if h.value.contains("/") || h.value.contains(" ") || h.value.contains(":") && !h.value.hasPrefix("[") {
            r.sink.error(h.location, r.path, "\"\(h.value)\" is not a host name", hint: "give only the host, e.g. \"www.example.com\"; use \"port\" and \"scheme\" for the rest")
            return nil
        }
        return h.value
    }
}
