/// A plain HTTP listener's answer to every request: 308 to the same path and query over HTTPS.
///
/// It exists so the redirect is a pure function of the request's validated Host (or a pinned
/// name), its path and its query: `Location` can never point at a host taken from anywhere
/// else in the request, and a Host that is not a plain name or IP literal gets 400, not a guess.
public struct HTTPSRedirect: Sendable, Equatable {
    /// `:8443`, or empty for 443 (precomputed with the snapshot).
    let portSuffix: String
    /// The pinned host name (lower case), or nil for the request's Host.
    let host: String?

    public init(port: Int, host: String?) {
        portSuffix = port == 443 ? "" : ":\(port)"
        self.host = host
    }

    /// `Location` for a request with this Host (`authority`: host[:port], as sent), path and
    /// query (nil: no `?` in the target); nil when no pinned host exists and `authority` is not
    /// a valid host.
    func location(authority: String, path: String, query: String?) -> String? {
        let name: Substring
        if let host {
            name = Substring(host)
        } else {
            guard let h = Self.hostPart(authority) else { return nil }
            name = h
        }
        var out = "https://"
        out.reserveCapacity(8 + name.utf8.count + portSuffix.utf8.count + path.utf8.count + (query?.utf8.count ?? 0) + 2)
        out += name.lowercased()
        out += portSuffix
        // An asterisk-form or authority-form target has no path: the site's root.
        out += path.hasPrefix("/") ? path : "/"
        if let query {
            out += "?"
            out += query
        }
        return out
    }

    /// The host of `host[:port]` when it is a DNS-style name (letters, digits, `-`, `.`, `_`)
    /// or a bracketed IPv6 literal; nil otherwise (empty, odd bytes, a bad port).
    static func hostPart(_ authority: String) -> Substring? {
        let a = Substring(authority)
        var host = a
        var port: Substring?
        if a.hasPrefix("[") {
            guard let close = a.firstIndex(of: "]") else { return nil }
            host = a[...close]
            let rest = a[a.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                port = rest.dropFirst()
            }
            let inner = host.dropFirst().dropLast()
            guard inner.utf8.count >= 2, inner.utf8.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                return nil
            }
        } else {
            if let colon = a.firstIndex(of: ":") {
                host = a[..<colon]
                port = a[a.index(after: colon)...]
            }
            guard !host.isEmpty, host.utf8.count <= 253,
                host.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") })
            else { return nil }
        }
        if let port {
            guard (1...5).contains(port.utf8.count), port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = Int(port), v <= 65535 else {
                return nil
            }
        }
        return host
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    private static func isHex(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }
}

extension HTTPSRedirect {
    /// The answer to `request`: 308 with `Location` (whatever the method: the client repeats it
    /// with its body), or 400 when there is no usable Host to send it back to.
    func answer(_ request: RequestFacts, hasQuery: Bool, keepAlive: Bool) -> LocalAnswer {
        guard let location = location(authority: request.host, path: request.path, query: hasQuery ? request.query : nil) else {
            return LocalAnswer(status: 400, content: .error, keepAlive: false)
        }
        return LocalAnswer(status: 308, content: .empty, fields: [.init(name: "Location", value: location)], keepAlive: keepAlive)
    }
}
