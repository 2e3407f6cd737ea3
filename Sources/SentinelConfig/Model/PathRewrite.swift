import KDL

/// How a `redirect` or `url-rewrite` filter changes the path (Gateway API semantics).
public enum PathRewrite: Sendable, Hashable {
    /// `replace-full-path "/new"`: the whole path becomes this.
    case fullPath(String)
    /// `replace-prefix-match "/new"`: the matched route prefix is replaced by this.
    case prefixMatch(String)

    /// Reads the two mutually exclusive keys; both given is an error.
    static func read(from r: inout NodeReader) -> PathRewrite? {
        let full = r.locatedString("replace-full-path")
        let prefix = r.locatedString("replace-prefix-match")
        for v in [full, prefix].compactMap({ $0 }) where !v.value.hasPrefix("/") {
            r.sink.error(v.location, r.path, "the replacement path \"\(v.value)\" must start with \"/\"")
        }
        if let full, let prefix {
            r.sink.error(prefix.location, r.path, "\"replace-full-path\" and \"replace-prefix-match\" are mutually exclusive",
                         hint: "keep one (replace-full-path is at line \(full.location.line))")
            return nil
        }
        if let full { return .fullPath(full.value) }
        if let prefix { return .prefixMatch(prefix.value) }
        return nil
    }
}
