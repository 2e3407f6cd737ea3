import KDL

/// `type "url-rewrite"`: changes the host and/or path before the request goes upstream
/// (Gateway API URLRewrite).
public struct UrlRewriteFilterConfig: Sendable, Hashable {
    /// `hostname`: the new `Host`.
    public var hostname: String?
    /// `replace-full-path` / `replace-prefix-match`.
    public var path: PathRewrite?

    public init() {}

    static func read(from r: inout NodeReader) -> UrlRewriteFilterConfig {
        var c = UrlRewriteFilterConfig()
        c.hostname = RedirectFilterConfig.readHostname(&r)
        c.path = PathRewrite.read(from: &r)
        if c.hostname == nil, c.path == nil, !r.has("hostname", "replace-full-path", "replace-prefix-match") {
            r.sink.warning(r.location, r.path, "this url-rewrite filter changes nothing",
                           hint: "add hostname, replace-full-path or replace-prefix-match")
        }
        return c
    }
}
