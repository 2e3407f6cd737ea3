/// How a `redirect` or `url-rewrite` filter changes the path, with Gateway API semantics.
public enum PathReplacement: Sendable, Equatable {
    /// The whole path becomes this (the query is kept).
    case fullPath(String)
    /// The route's matched path prefix is replaced by this; the rest of the path is kept.
    case prefixMatch(String)

    /// The path after the replacement. `prefixes`: the route's `path-prefix` conditions (the
    /// longest one the path matches, segment-aware, is the one replaced); a path none of them
    /// matches (the route matched it otherwise) is left as it is.
    func apply(to path: String, prefixes: [String]) -> String {
        switch self {
        case .fullPath(let full):
            return full
        case .prefixMatch(let replacement):
            guard let prefix = prefixes.filter({ Self.prefix($0, matches: path) }).max(by: { $0.utf8.count < $1.utf8.count }) else {
                return path
            }
            // A prefix written with a trailing slash matches the same requests as one without.
            let matched = prefix.count > 1 && prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
            var rest = Substring(path.dropFirst(matched.count))
            if replacement.hasSuffix("/"), rest.hasPrefix("/") { rest = rest.dropFirst() }
            if !replacement.hasSuffix("/"), !rest.isEmpty, !rest.hasPrefix("/") { rest = "/" + rest }
            let joined = replacement + rest
            return joined.isEmpty ? "/" : joined
        }
    }

    /// Segment-aware prefix test, as the router matches `path-prefix`.
    static func prefix(_ prefix: String, matches path: String) -> Bool {
        guard path.hasPrefix(prefix) else { return false }
        let p = prefix.utf8
        let s = path.utf8
        if p.count == s.count || p.last == UInt8(ascii: "/") { return true }
        return s[s.index(s.startIndex, offsetBy: p.count)] == UInt8(ascii: "/")
    }
}

/// Host syntax the filters accept from a request before using it in a `Location` or a `Host`:
/// a registered name (letters, digits, `-`, `.`, `_`), an IPv4 address, or a bracketed IPv6
/// address, optionally with a port. Nothing that could end the authority early (`/`, `\`, `@`,
/// `?`, `#`) or break a field (controls, spaces).
enum HostSyntax {
    /// Splits `authority` into host and port, nil when it is not a plain host[:port].
    static func split(_ authority: String) -> (host: String, port: Int?)? {
        var host = Substring(authority)
        var port: Int?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let inner = host[host.index(after: host.startIndex)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65_535).contains(p) else { return nil }
                port = p
            }
            host = host[...close]
            return (String(host), port)
        }
        if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65_535).contains(p) else { return nil }
            port = p
            host = host[..<colon]
        }
        guard !host.isEmpty, host.utf8.count <= 253,
            host.utf8.allSatisfy({ b in
                (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E || b == 0x5F
            })
        else { return nil }
        return (String(host), port)
    }
}
