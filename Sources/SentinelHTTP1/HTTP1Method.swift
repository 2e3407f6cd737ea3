/// Request methods the proxy treats specially; any other valid token is `.other` (its bytes are
/// in `RequestHead.methodRange`). Methods are case-sensitive (RFC 9110 §9.1): `get` is `.other`.
public enum HTTP1Method: UInt8, Hashable, Sendable {
    case get, head, post, put, delete, options, patch, trace, connect, other

    static func classify(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> HTTP1Method {
        func eq(_ s: StaticString) -> Bool {
            guard r.count == s.utf8CodeUnitCount else { return false }
            for i in 0..<r.count where p[r.lowerBound &+ i] != s.utf8Start[i] { return false }
            return true
        }
        switch r.count {
        case 3: return eq("GET") ? .get : eq("PUT") ? .put : .other
        case 4: return eq("POST") ? .post : eq("HEAD") ? .head : .other
        case 5: return eq("PATCH") ? .patch : eq("TRACE") ? .trace : .other
        case 6: return eq("DELETE") ? .delete : .other
        case 7: return eq("OPTIONS") ? .options : eq("CONNECT") ? .connect : .other
        default: return .other
        }
    }
}

/// The two protocol versions this core speaks. Anything else is refused (505 for a well-formed
/// `HTTP/x.y`, 400 for garbage), so no downstream component ever sees an HTTP/0.9 or 2.0 head.
public enum HTTP1Version: Hashable, Sendable {
    case http1_0
    case http1_1

    /// Parses exactly 8 bytes `HTTP/d.d`. nil = not a version at all; `.failure` = well-formed
    /// but unsupported.
    static func parse(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Result<HTTP1Version, HTTP1ParseError.Code> {
        let s = r.lowerBound
        guard r.count == 8, p[s] == 0x48, p[s + 1] == 0x54, p[s + 2] == 0x54, p[s + 3] == 0x50,
            p[s + 4] == 0x2F, HTTP1Bytes.isDigit(p[s + 5]), p[s + 6] == 0x2E, HTTP1Bytes.isDigit(p[s + 7])
        else { return .failure(.invalidVersion) }
        if p[s + 5] == 0x31 && p[s + 7] == 0x31 { return .success(.http1_1) }
        if p[s + 5] == 0x31 && p[s + 7] == 0x30 { return .success(.http1_0) }
        return .failure(.unsupportedVersion)
    }
}

/// How a request's body is delimited (RFC 9112 §6.3). A request never reads until close.
public enum RequestFraming: Hashable, Sendable {
    /// No body: the next request starts right after the head.
    case none
    /// Exactly this many body bytes follow.
    case contentLength(UInt64)
    /// A chunked body follows; validate it with `ChunkedDecoder`.
    case chunked
}

/// How a response's body is delimited (RFC 9112 §6.3), given the request it answers.
public enum ResponseFraming: Hashable, Sendable {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0` is reported as `.contentLength(0)`).
    case none
    /// Exactly this many body bytes follow.
    case contentLength(UInt64)
    /// A chunked body follows.
    case chunked
    /// The body ends when the upstream closes; the connection cannot be reused.
    case untilClose
    /// A 2xx answer to CONNECT: the connection is a byte tunnel from now on.
    case tunnel
}

/// The shape of a request target (RFC 9112 §3.2).
public enum RequestTargetForm: Hashable, Sendable {
    /// `/path?query`: the usual form.
    case origin
    /// `http://authority/path?query`: sent to proxies.
    case absolute
    /// `host:port`: CONNECT only.
    case authority
    /// `*`: OPTIONS only.
    case asterisk
}
