import KDL

/// What a rate limiter counts requests by.
public enum RateLimitKey: Sendable, Hashable, CustomStringConvertible {
    /// The client's IP address (the default).
    case clientIP
    /// The request path.
    case path
    /// The matched route id (one bucket per route).
    case route
    /// Client IP and path together.
    case clientIPAndPath
    /// The value of a request header (`header:X-Api-Key`); requests without it share one bucket.
    case header(String)

    public var description: String {
        switch self {
        case .clientIP: return "client-ip"
        case .path: return "path"
        case .route: return "route"
        case .clientIPAndPath: return "client-ip-and-path"
        case .header(let name): return "header:\(name)"
        }
    }

    static let words = ["client-ip", "path", "route", "client-ip-and-path", "header:<Name>"]

    /// Reads `key "<k>"` from a reader; nil when absent or invalid (the error is reported).
    static func read(_ r: inout NodeReader, _ names: String...) -> RateLimitKey? {
        guard let child = r.single(names), let v = NodeReader.scalarValue(of: child, path: r.path, sink: r.sink) else { return nil }
        guard let s = ValueReader(sink: r.sink, path: r.path, key: names[0]).string(v) else { return nil }
        return parse(s, at: v.location, path: r.path, sink: r.sink)
    }

    static func parse(_ s: String, at location: KDLSourceLocation, path: ConfigPath, sink: DiagnosticSink) -> RateLimitKey? {
        let lower = Suggest.normalize(s)
        switch lower {
        case "client-ip", "ip": return .clientIP
        case "path": return .path
        case "route": return .route
        case "client-ip-and-path", "ip-and-path": return .clientIPAndPath
        default: break
        }
        if lower.hasPrefix("header:") {
            let name = String(s.dropFirst("header:".count)).trimmingSpaces()
            guard HTTPSyntax.checkHeaderName(name, at: location, path, sink) else { return nil }
            return .header(name)
        }
        let guess = Suggest.closest(to: s, among: Array(words.dropLast()))
        sink.error(location, path, "unknown rate-limit key \"\(s)\"",
                   hint: (guess.map { "did you mean \"\($0)\"? " } ?? "") + "one of: " + words.joined(separator: ", "))
        return nil
    }
}
