/// A parsed upstream response head: offsets into the parsed bytes plus the facts the proxy
/// needs to frame the body and manage both connections.
public struct ResponseHead: Equatable, Sendable {
    public var version: HTTP1Version = .http1_1
    /// The status code, 100–599.
    public var status = 0
    /// The reason phrase (possibly empty).
    public var reason: Range<Int> = 0..<0
    /// Field lines in order, names and values OWS-trimmed.
    public var fields = HTTP1FieldList()
    /// Bytes from the start of the buffer through the final CRLF CRLF.
    public var headLength = 0
    /// How the body is delimited, given the request method (RFC 9112 §6.3).
    public var framing: ResponseFraming = .none
    /// Whether the upstream connection may be reused after this response.
    public var keepAlive = true
    /// Options named in `Connection` (except `close`): field names to strip as hop-by-hop.
    public var connectionOptions = HTTP1RangeList()
    /// The `Upgrade` value, set only when `Connection` names `upgrade`.
    public var upgrade: Range<Int>?

    /// 1xx other than 101: forward it and keep reading for the final response.
    public var isInterim: Bool { status >= 100 && status < 200 && status != 101 }
    /// A 101 that switches protocols (Connection: upgrade and an Upgrade value).
    public var isUpgrade101: Bool { status == 101 && upgrade != nil }

    /// Indices of the fields a proxy must remove before forwarding.
    public var hopByHopFieldIndices: HTTP1HopByHopIndices { HTTP1HopByHopIndices(fields: fields) }

    public init() {}

    /// Back to `init()` without re-initialising inline storage.
    mutating func clear() {
        version = .http1_1
        status = 0
        reason = 0..<0
        fields.removeAll()
        headLength = 0
        framing = .none
        keepAlive = true
        connectionOptions.removeAll()
        upgrade = nil
    }
}

/// The outcome of one `HTTP1ResponseHeadParser.parse` call.
public enum ResponseParseResult: Equatable, Sendable {
    case needMore
    case head(ResponseHead)
    /// The upstream's head is invalid: answer 502 and close the upstream connection.
    case error(HTTP1ParseError)
}
