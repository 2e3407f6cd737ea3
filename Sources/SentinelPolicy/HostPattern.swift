/// A compiled `host` condition.
///
/// It exists to keep host matching in one place with one normalisation (lowercase, port
/// stripped, trailing dot dropped) for patterns and requests alike, so `Example.COM:8443`
/// and `example.com.` cannot slip past a host-scoped route.
struct HostPattern: @unchecked Sendable {
    // @unchecked: `Regex` is an immutable value whose program is built once; it is only read here.
    enum Kind {
        case exact, wildcard, regex
        var specificity: Int {
            switch self {
            case .exact: 70
            case .regex: 60
            case .wildcard: 50
            }
        }
    }

    private enum Storage {
        case exact(String)
        /// `*.example.com` stored as ".example.com".
        case wildcard(suffix: String)
        case regex(Regex<AnyRegexOutput>)
    }

    private let storage: Storage

    static func kind(of pattern: String) -> Kind {
        if pattern.hasPrefix("*.") { return .wildcard }
        if pattern.contains("*") || pattern.contains("[") { return .regex }
        return .exact
    }

    init(_ pattern: String, routeID: String) throws(RouterError) {
        switch Self.kind(of: pattern) {
        case .wildcard:
            storage = .wildcard(suffix: Self.normalize(String(pattern.dropFirst())))
        case .exact:
            storage = .exact(Self.normalize(pattern))
        case .regex:
            do {
                storage = .regex(try Regex(pattern).ignoresCase())
            } catch {
                throw .invalidHostPattern(routeID, pattern: pattern, reason: "\(error)")
            }
        }
    }

    /// The exact host this pattern needs, when it is an exact pattern (for indexing).
    var exactHost: String? {
        if case .exact(let host) = storage { return host }
        return nil
    }

    /// `host` must already be normalised with `HostPattern.normalize`.
    func matches(normalizedHost host: String) -> Bool {
        switch storage {
        case .exact(let exact):
            return host == exact
        case .wildcard(let suffix):
            return host.utf8.count > suffix.utf8.count && host.hasSuffix(suffix)
        case .regex(let regex):
            return (try? regex.wholeMatch(in: host)) != nil
        }
    }

    /// Lowercases, strips a port (`host:8080`, `[::1]:8080`) and one trailing dot.
    static func normalize(_ raw: String) -> String {
        var host = Substring(raw)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[...close] }
        } else if let colon = host.firstIndex(of: ":") {
            host = host[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        let hasUpper = host.utf8.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        return hasUpper || !host.utf8.allSatisfy({ $0 < 0x80 }) ? host.lowercased() : String(host)
    }
}
