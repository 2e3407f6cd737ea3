import NIOCore
import SentinelHTTP1

/// Builds the head Sentinel sends upstream from the client's parsed head, and the head it sends
/// back to the client from the upstream's: the original field bytes are copied, and only what a
/// proxy must change is changed (hop-by-hop fields removed, forwarding and trace fields set).
///
/// Copying bytes instead of rebuilding header objects is what keeps the hot path free of
/// per-field allocations; the strict parsers have already refused anything that could be framed
/// differently downstream, so copying is safe.
enum HeadWriter {
    /// What the request head needs besides the client's bytes.
    struct RequestEdits {
        var clientIP: String
        var scheme: StaticString
        var traceID: String
        var traceparent: Traceparent?
        /// Keep `Connection: upgrade` + `Upgrade` (a WebSocket route).
        var passUpgrade: Bool
        /// Remove `Expect` (Sentinel answers 100-continue itself).
        var dropExpect: Bool
        /// The route's `request-headers` policy.
        var policy = HeaderEdits()
    }

    /// The W3C trace context sent upstream: the client's (validated), or a new one written
    /// straight into the head (no string built per request).
    enum Traceparent {
        case incoming(String)
        /// Random words for the trace id (two) and the parent id.
        case new(UInt64, UInt64, UInt64)

        var byteCount: Int {
            switch self {
            case .incoming(let value): return value.utf8.count
            case .new: return 55
            }
        }
    }

    /// Writes the upstream request head into `out`.
    static func request(
        _ head: RequestHead, bytes p: UnsafeRawBufferPointer, edits: RequestEdits, into out: inout ByteBuffer
    ) {
        write(into: &out, bound: requestBound(head, edits: edits)) { request(head, bytes: p, edits: edits, into: &$0) }
    }

    /// Upper bound of the upstream head's size (allocate this much and the head is written in
    /// place): the client's head (request line and fields, each field at most a byte longer), the
    /// authority and host each at most once more, the policy's growth, and Sentinel's own fields
    /// (the trace id twice).
    static func requestBound(_ head: RequestHead, edits: RequestEdits) -> Int {
        3 * head.headLength + 512 + edits.clientIP.utf8.count + 2 * edits.traceID.utf8.count
            + (edits.traceparent?.byteCount ?? 0) + 2 * head.fields.count + edits.policy.growthBound(fields: head.fields.count)
    }

    /// Runs `body` on a writer over `bound` reserved bytes; if the bound was too small (a bug,
    /// never expected), again over a reservation twice the size plus 64 KiB, until it fits.
    private static func write(into out: inout ByteBuffer, bound: Int, _ body: (inout RawHeadWriter) -> Void) {
        var reserve = bound
        while true {
            var fitted = false
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: reserve) { raw in
                var w = RawHeadWriter(raw)
                body(&w)
                fitted = !w.overflowed
                return fitted ? w.count : 0
            }
            if fitted { return }
            reserve = reserve * 2 + 65_536
        }
    }

    static func request(
        _ head: RequestHead, bytes p: UnsafeRawBufferPointer, edits: RequestEdits, into out: inout RawHeadWriter
    ) {
        // Request line, always origin-form and HTTP/1.1 towards the upstream.
        out.append(p, head.methodRange)
        out.append(byte: UInt8(ascii: " "))
        if head.targetForm == .absolute {
            out.append(p, head.path)
            if let q = head.query {
                out.append(byte: UInt8(ascii: "?"))
                out.append(p, q)
            }
        } else {
            out.append(p, head.target)
        }
        out.append(" HTTP/1.1\r\n")

        var priorForwardedFor = SmallRanges()
        var hostWritten = false
        // Indexed, not `for field in`: the iterator would copy the inline field list.
        for i in head.fields.indices {
            let field = head.fields[i]
            let name = field.nameRange
            if field.isHopByHop { continue }
            if field.name == .expect, edits.dropExpect { continue }
            if field.name == .host { hostWritten = true }
            if field.name == .other, isOwnedBySentinel(p, name) {
                // The client's values of these are replaced, never trusted; a prior
                // X-Forwarded-For chain is kept and extended.
                if name.count == 15 { priorForwardedFor.append(field.valueRange) }
                continue
            }
            writeField(p, field, policy: edits.policy, into: &out)
        }
        edits.policy.writeAdded(into: &out)
        if !hostWritten, let authority = head.authority {
            out.append("Host: ")
            out.append(p, authority)
            out.append("\r\n")
        }
        if head.framing == .chunked {
            out.append("Transfer-Encoding: chunked\r\n")
        }
        if edits.passUpgrade, let upgrade = head.upgrade {
            out.append("Connection: upgrade\r\nUpgrade: ")
            out.append(p, upgrade)
            out.append("\r\n")
        }
        let policy = edits.policy
        if policy.isEmpty || !policy.overrides("x-forwarded-for") {
            out.append("X-Forwarded-For: ")
            priorForwardedFor.forEach { prior in
                guard !prior.isEmpty else { return }
                out.append(p, prior)
                out.append(", ")
            }
            out.append(edits.clientIP)
            out.append("\r\n")
        }
        if policy.isEmpty || !policy.overrides("x-forwarded-proto") {
            out.append("X-Forwarded-Proto: ")
            out.append(edits.scheme)
            out.append("\r\n")
        }
        if let host = head.host ?? head.authority, policy.isEmpty || !policy.overrides("x-forwarded-host") {
            out.append("X-Forwarded-Host: ")
            out.append(p, host)
            out.append("\r\n")
        }
        writeOwnField("X-Trace-Id: ", "x-trace-id", edits.traceID, policy: policy, into: &out)
        writeOwnField("X-Correlation-Id: ", "x-correlation-id", edits.traceID, policy: policy, into: &out)
        if let tp = edits.traceparent, policy.isEmpty || !policy.overrides("traceparent") {
            out.append("traceparent: ")
            switch tp {
            case .incoming(let value):
                out.append(value)
            case .new(let w0, let w1, let w2):
                withUnsafeTemporaryAllocation(byteCount: 55, alignment: 1) { buffer in
                    RequestFacts.writeTraceparent((w0, w1, w2), into: buffer)
                    out.append(UnsafeRawBufferPointer(buffer))
                }
            }
            out.append("\r\n")
        }
        out.append("\r\n")
    }

    /// One of Sentinel's own fields (`prefix` is "Name: "), unless the route's policy sets
    /// that field (`key`, lowercase) itself.
    @inline(__always)
    static func writeOwnField(
        _ prefix: StaticString, _ key: StaticString, _ value: String, policy: HeaderEdits, into out: inout RawHeadWriter
    ) {
        guard policy.isEmpty || !policy.overrides(key) else { return }
        out.append(prefix)
        out.append(value)
        out.append("\r\n")
    }

    /// Copies one field, applying the route's policy (rename, or drop when set/removed).
    @inline(__always)
    static func writeField(_ p: UnsafeRawBufferPointer, _ field: HTTP1Field, policy: HeaderEdits, into out: inout RawHeadWriter) {
        let name = field.nameRange
        if policy.isEmpty {
            out.append(p, name)
        } else {
            switch policy.disposition(p, name) {
            case .drop: return
            case .keep: out.append(p, name)
            case .rename(let newName): out.append(newName)
            }
        }
        out.append(": ")
        out.append(p, field.valueRange)
        out.append("\r\n")
    }

    /// Fields whose request values Sentinel sets itself: X-Forwarded-For (extended),
    /// X-Forwarded-Host and -Proto, X-Trace-Id and X-Correlation-Id (both the trace id, which
    /// reuses an acceptable incoming id), and the internal-credential fields the original also
    /// stripped.
    static func isOwnedBySentinel(_ p: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        switch name.count {
        case 10: return HeaderBytes.equals(p, name, "x-trace-id")
        case 14: return HeaderBytes.equals(p, name, "x-internal-token")
        case 15: return HeaderBytes.equals(p, name, "x-forwarded-for")
        case 16: return HeaderBytes.equals(p, name, "x-forwarded-host") || HeaderBytes.equals(p, name, "x-correlation-id")
        case 17: return HeaderBytes.equals(p, name, "x-forwarded-proto")
        case 22: return HeaderBytes.equals(p, name, "authorization-internal")
        default: return false
        }
    }

    /// What the response head needs besides the upstream's bytes.
    struct ResponseEdits {
        var traceID: String
        /// The client connection closes after this response.
        var close: Bool
        /// The client speaks HTTP/1.0 and keeps the connection (needs an explicit keep-alive).
        var http10KeepAlive: Bool
        /// Send the body de-chunked (to an HTTP/1.0 client): drop Transfer-Encoding.
        var dechunk: Bool
        /// A 101 response: keep `Connection: upgrade` and `Upgrade`.
        var upgrade: Bool
        /// The route's `response-headers` policy.
        var policy = HeaderEdits()
        /// A sticky-session cookie to set.
        var setCookie: String? = nil
        /// Fields Sentinel adds (fallback reporting).
        var extra: [(String, String)] = []
    }

    /// Writes the client-facing response head into `out`.
    static func response(
        _ head: ResponseHead, bytes p: UnsafeRawBufferPointer, edits: ResponseEdits, into out: inout ByteBuffer
    ) {
        write(into: &out, bound: responseBound(head, edits: edits)) { response(head, bytes: p, edits: edits, into: &$0) }
    }

    /// Upper bound of the client head's size. A copied field can be one byte longer than
    /// received ("a:b" is written "a: b").
    static func responseBound(_ head: ResponseHead, edits: ResponseEdits) -> Int {
        var bound = head.headLength + 512 + 2 * head.fields.count + edits.traceID.utf8.count + (edits.setCookie?.utf8.count ?? 0)
        bound += edits.policy.growthBound(fields: head.fields.count)
        for (name, value) in edits.extra { bound += name.utf8.count + value.utf8.count + 4 }
        return bound
    }

    static func response(
        _ head: ResponseHead, bytes p: UnsafeRawBufferPointer, edits: ResponseEdits, into out: inout RawHeadWriter
    ) {
        out.append("HTTP/1.1 ")
        out.append(decimal: head.status)
        out.append(byte: UInt8(ascii: " "))
        if head.reason.isEmpty {
            out.append(HTTPReason.phrase(head.status))
        } else {
            out.append(p, head.reason)
        }
        out.append("\r\n")
        // Indexed, not `for field in`: the iterator would copy the inline field list.
        var contentLengthWritten = false
        for i in head.fields.indices {
            let field = head.fields[i]
            if field.isHopByHop { continue }
            let name = field.nameRange
            if field.name == .other, name.count == 16, HeaderBytes.equals(p, name, "x-correlation-id") { continue }
            if field.name == .contentLength {
                // Never on 1xx or 204 (RFC 9110 §8.6): those have no content to measure.
                if head.status < 200 || head.status == 204 { continue }
                // The parser accepts repeated Content-Length values (lines, or a list in one line)
                // only when identical (RFC 9110 §8.6); the client gets exactly one value, so no
                // downstream parser has to decide what the repeats mean.
                if contentLengthWritten { continue }
                contentLengthWritten = true
                var end = field.valueRange.lowerBound
                while end < field.valueRange.upperBound, p[end] != UInt8(ascii: ","), p[end] != UInt8(ascii: " "),
                    p[end] != UInt8(ascii: "\t")
                {
                    end += 1
                }
                if end < field.valueRange.upperBound {
                    out.append(p, name)
                    out.append(": ")
                    out.append(p, field.valueRange.lowerBound..<end)
                    out.append("\r\n")
                    continue
                }
            }
            writeField(p, field, policy: edits.policy, into: &out)
        }
        edits.policy.writeAdded(into: &out)
        for (name, value) in edits.extra {
            out.append(name)
            out.append(": ")
            out.append(value)
            out.append("\r\n")
        }
        if let cookie = edits.setCookie {
            out.append("Set-Cookie: ")
            out.append(cookie)
            out.append("\r\n")
        }
        if head.framing == .chunked, !edits.dechunk {
            out.append("Transfer-Encoding: chunked\r\n")
        }
        if edits.upgrade, let upgrade = head.upgrade {
            out.append("Connection: upgrade\r\nUpgrade: ")
            out.append(p, upgrade)
            out.append("\r\n")
        } else if edits.close {
            out.append("Connection: close\r\n")
        } else if edits.http10KeepAlive {
            out.append("Connection: keep-alive\r\n")
        }
        writeOwnField("X-Correlation-Id: ", "x-correlation-id", edits.traceID, policy: edits.policy, into: &out)
        out.append("\r\n")
    }
}

/// Up to four ranges inline (prior `X-Forwarded-For` fields), more on the heap.
struct SmallRanges {
    private var first: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
    private var inline = 0
    private var rest: [Range<Int>] = []

    mutating func append(_ r: Range<Int>) {
        switch inline {
        case 0: first.0 = r
        case 1: first.1 = r
        case 2: first.2 = r
        case 3: first.3 = r
        default:
            rest.append(r)
            return
        }
        inline += 1
    }

    func forEach(_ body: (Range<Int>) -> Void) {
        if inline > 0 { body(first.0) }
        if inline > 1 { body(first.1) }
        if inline > 2 { body(first.2) }
        if inline > 3 { body(first.3) }
        for r in rest { body(r) }
    }
}
