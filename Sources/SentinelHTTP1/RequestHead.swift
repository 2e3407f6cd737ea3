/// A parsed request head: offsets into the bytes that were parsed, plus every fact the proxy
/// needs to frame, route and forward the request, computed in the same pass.
///
/// Nothing here owns text: ranges index the buffer passed to `HTTP1RequestHeadParser.parse`,
/// so the proxy can forward the original bytes and edit only what it must.
public struct RequestHead: Equatable, Sendable {
    /// The method, or `.other` for an extension method (see `methodRange`).
    public var method: HTTP1Method = .other
    /// The method token.
    public var methodRange: Range<Int> = 0..<0
    /// The whole request target.
    public var target: Range<Int> = 0..<0
    public var targetForm: RequestTargetForm = .origin
    /// Path part of the target: up to "?" (origin and absolute form), `*`, or empty for CONNECT.
    public var path: Range<Int> = 0..<0
    /// Query without the "?", when the target has one.
    public var query: Range<Int>?
    /// Authority of an absolute-form or authority-form target.
    public var authority: Range<Int>?
    public var version: HTTP1Version = .http1_1
    /// Field lines in order, names and values OWS-trimmed.
    public var fields = HTTP1FieldList()
    /// Bytes from the start of the buffer through the final CRLF CRLF: the next request (or this
    /// one's body) starts here.
    public var headLength = 0
    public var framing: RequestFraming = .none
    /// The Host value (validated `host[:port]`).
    public var host: Range<Int>?
    /// Whether the connection may carry another request after this one.
    public var keepAlive = true
    /// Options named in `Connection` (except `close`): field names to strip as hop-by-hop.
    public var connectionOptions = HTTP1RangeList()
    /// `Expect: 100-continue` was sent.
    public var expect100Continue = false
    /// The `Upgrade` value, set only when `Connection` also names `upgrade`.
    public var upgrade: Range<Int>?

    /// Indices of the fields a proxy must remove before forwarding: the standard hop-by-hop
    /// fields and those named by `Connection`.
    public var hopByHopFieldIndices: HTTP1HopByHopIndices { HTTP1HopByHopIndices(fields: fields) }

    public init() {}

    /// Back to `init()` without re-initialising inline storage.
    mutating func clear() {
        method = .other
        methodRange = 0..<0
        target = 0..<0
        targetForm = .origin
        path = 0..<0
        query = nil
        authority = nil
        version = .http1_1
        fields.removeAll()
        headLength = 0
        framing = .none
        host = nil
        keepAlive = true
        connectionOptions.removeAll()
        expect100Continue = false
        upgrade = nil
    }
}

/// The outcome of one `parseInPlace` call (either parser).
public enum HeadParseStatus: Equatable, Sendable {
    /// The head is incomplete; call again with the same bytes plus what arrives next.
    case needMore
    /// A complete, valid head, in the parser's `completedHead` until its next call.
    case complete
    /// The head is invalid (see `RequestParseResult.error` / `ResponseParseResult.error`).
    case error(HTTP1ParseError)
}

/// The outcome of one `parse` call.
public enum RequestParseResult: Equatable, Sendable {
    /// The head is incomplete; call again with the same bytes plus what arrives next.
    case needMore
    /// A complete, valid head.
    case head(RequestHead)
    /// The head is invalid: answer `error.status` and close the connection.
    case error(HTTP1ParseError)
}
