/// The parts of a request that routing looks at, borrowed from whatever HTTP stack parsed it.
///
/// It exists so the router needs no HTTP library. Headers are looked up through a closure so a
/// caller pays for header access only when some route actually has a header condition
/// (`Router.usesHeaders`).
public struct RouteRequest {
    /// Request method as sent (compared in uppercase).
    public var method: String
    /// Host from the URI authority or else the `Host` header; may carry a port and any case.
    public var host: String
    /// Path without the query string.
    public var path: String
    /// Raw query string without the leading `?` (still percent-encoded).
    public var query: String
    /// All values of the header with this lowercase name, in order.
    public var headerValues: (_ lowercaseName: String) -> [String]

    public init(
        method: String,
        host: String,
        path: String,
        query: String = "",
        headerValues: @escaping (_ lowercaseName: String) -> [String] = { _ in [] }
    ) {
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        self.headerValues = headerValues
    }

    /// Convenience for callers (and tests) that already hold the headers as pairs.
    public init(method: String, host: String, path: String, query: String = "", headers: [(String, String)]) {
        let lowered = headers.map { ($0.0.lowercased(), $0.1) }
        self.init(method: method, host: host, path: path, query: query) { name in
            lowered.compactMap { $0.0 == name ? $0.1 : nil }
        }
    }
}
