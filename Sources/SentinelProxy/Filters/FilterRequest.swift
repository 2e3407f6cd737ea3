import Logging
import SentinelHTTP1
import SentinelRateLimit

/// The request as a filter sees it: the parsed head over its bytes, the strings routing copied
/// out, the client's address, the route and the trace id, and (for a chain that may wait) the
/// waker a pending filter answers through.
///
/// The byte views are valid only during `onRequest`; a filter that waits copies what it needs.
struct FilterRequest {
    let head: RequestHead
    let bytes: UnsafeRawBufferPointer
    let facts: RequestFacts
    /// The client's address as text (the socket peer, or the address a trusted proxy forwarded).
    let clientAddress: String
    /// "https" on a TLS listener, else "http".
    let scheme: String
    let routeID: String
    let traceID: String
    /// Set when the route's chain may wait (`FilterChain.mayWait`); nil otherwise.
    let waker: FilterWaker?
    /// The process's event log (a `log` filter writes to it).
    var logger: Logger? = nil

    /// The first value of the field named `lowercaseName` (its bytes in lower case, computed
    /// once by the filter), if any.
    func header(_ lowercaseName: [UInt8]) -> String? {
        for i in head.fields.indices where HeaderBytes.equals(bytes, head.fields[i].nameRange, lowercase: lowercaseName) {
            return HeaderBytes.string(bytes, head.fields[i].valueRange)
        }
        return nil
    }

    /// How many fields are named `lowercaseName`.
    func headerCount(_ lowercaseName: [UInt8]) -> Int {
        var n = 0
        for i in head.fields.indices where HeaderBytes.equals(bytes, head.fields[i].nameRange, lowercase: lowercaseName) { n += 1 }
        return n
    }

    /// Every field as (name, value) strings, in order (for a filter that sends the head elsewhere).
    func allHeaders() -> [(name: String, value: String)] {
        head.fields.indices.map { i in
            (HeaderBytes.string(bytes, head.fields[i].nameRange), HeaderBytes.string(bytes, head.fields[i].valueRange))
        }
    }
}

/// What the filters of one request decided so far, accumulated as the chain runs.
struct FilterEffects {
    /// Edits to the head sent upstream, after the route's `request-headers` policy.
    var requestEdits: HeaderEdits?
    /// Edits to the response head, after the route's `response-headers` and static filter edits.
    var responseEdits: HeaderEdits?
    /// The request target sent upstream instead of the client's (`url-rewrite`: path and query).
    var target: String?
    /// The `Host` sent upstream instead of the client's (`url-rewrite`).
    var host: String?
    /// The binding rate limit of an admitted request (the one with the fewest tokens left), for
    /// its response's X-RateLimit-* fields; nil: no limiter looked at it.
    var rateLimit: RateLimitVerdict?

    /// Records a limiter's verdict on an admitted request (the tightest one is kept).
    mutating func rateLimited(_ v: RateLimitVerdict) {
        if let r = rateLimit, r.remaining <= v.remaining { return }
        rateLimit = v
    }

    /// The response edits of the filters, with the X-RateLimit-* fields of the binding limit.
    var allResponseEdits: HeaderEdits? {
        guard let rateLimit else { return responseEdits }
        let fields = HeaderEdits.rateLimit(rateLimit)
        return responseEdits.map { $0.followed(by: fields) } ?? fields
    }

    /// Adds `edits` to the request edits (after those already there).
    mutating func editRequest(_ edits: HeaderEdits) {
        requestEdits = requestEdits.map { $0.followed(by: edits) } ?? edits
    }

    /// Adds `edits` to the response edits (after those already there).
    mutating func editResponse(_ edits: HeaderEdits) {
        responseEdits = responseEdits.map { $0.followed(by: edits) } ?? edits
    }
}
