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
        var traceparent: String?
        /// Keep `Connection: upgrade` + `Upgrade` (a WebSocket route).
        var passUpgrade: Bool
        /// Remove `Expect` (Sentinel answers 100-continue itself).
        var dropExpect: Bool
        /// The route's `request-headers` policy.
        var policy = HeaderEdits()
    }

    /// Writes the upstream request head into `out`.
    static func request(
        _ head: RequestHead, bytes p: UnsafeRawBufferPointer, edits: RequestEdits, into out: inout ByteBuffer
    ) {
        // Request line, always origin-form and HTTP/1.1 towards the upstream.
        out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.methodRange]))
        out.writeInteger(UInt8(ascii: " "))
        if head.targetForm == .absolute {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.path]))
            if let q = head.query {
                out.writeInteger(UInt8(ascii: "?"))
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[q]))
            }
        } else {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.target]))
        }
        out.writeStaticString(" HTTP/1.1\r\n")

        var priorForwardedFor: [Range<Int>] = []
        var hostWritten = false
        for field in head.fields {
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
            out.writeStaticString("Host: ")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[authority]))
            out.writeStaticString("\r\n")
        }
        if head.framing == .chunked {
            out.writeStaticString("Transfer-Encoding: chunked\r\n")
        }
        if edits.passUpgrade, let upgrade = head.upgrade {
            out.writeStaticString("Connection: upgrade\r\nUpgrade: ")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[upgrade]))
            out.writeStaticString("\r\n")
        }
        let policy = edits.policy
        if policy.isEmpty || !policy.overrides("x-forwarded-for") {
            out.writeStaticString("X-Forwarded-For: ")
            for prior in priorForwardedFor where !prior.isEmpty {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[prior]))
                out.writeStaticString(", ")
            }
            out.writeString(edits.clientIP)
            out.writeStaticString("\r\n")
        }
        if policy.isEmpty || !policy.overrides("x-forwarded-proto") {
            out.writeStaticString("X-Forwarded-Proto: ")
            out.writeStaticString(edits.scheme)
            out.writeStaticString("\r\n")
        }
        if let host = head.host ?? head.authority, policy.isEmpty || !policy.overrides("x-forwarded-host") {
            out.writeStaticString("X-Forwarded-Host: ")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[host]))
            out.writeStaticString("\r\n")
        }
        if policy.isEmpty || !policy.overrides("x-trace-id") {
            out.writeStaticString("X-Trace-Id: ")
            out.writeString(edits.traceID)
            out.writeStaticString("\r\n")
        }
        if let tp = edits.traceparent, policy.isEmpty || !policy.overrides("traceparent") {
            out.writeStaticString("traceparent: ")
            out.writeString(tp)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
    }

    /// Copies one field, applying the route's policy (rename, or drop when set/removed).
    @inline(__always)
    static func writeField(_ p: UnsafeRawBufferPointer, _ field: HTTP1Field, policy: HeaderEdits, into out: inout ByteBuffer) {
        let name = field.nameRange
        if policy.isEmpty {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[name]))
        } else {
            switch policy.disposition(p, name) {
            case .drop: return
            case .keep: out.writeBytes(UnsafeRawBufferPointer(rebasing: p[name]))
            case .rename(let newName): out.writeBytes(newName)
            }
        }
        out.writeStaticString(": ")
        out.writeBytes(UnsafeRawBufferPointer(rebasing: p[field.valueRange]))
        out.writeStaticString("\r\n")
    }

    /// Fields whose request values Sentinel sets itself: X-Forwarded-For (extended),
    /// X-Forwarded-Host and -Proto, X-Trace-Id, and the internal-credential fields the original
    /// also stripped.
    static func isOwnedBySentinel(_ p: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        switch name.count {
        case 10: return HeaderBytes.equals(p, name, "x-trace-id")
        case 14: return HeaderBytes.equals(p, name, "x-internal-token")
        case 15: return HeaderBytes.equals(p, name, "x-forwarded-for")
        case 16: return HeaderBytes.equals(p, name, "x-forwarded-host")
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
        out.writeStaticString("HTTP/1.1 ")
        out.writeString(String(head.status))
        out.writeInteger(UInt8(ascii: " "))
        if head.reason.isEmpty {
            out.writeString(HTTPReason.phrase(head.status))
        } else {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.reason]))
        }
        out.writeStaticString("\r\n")
        for field in head.fields {
            if field.isHopByHop { continue }
            let name = field.nameRange
            if field.name == .other, name.count == 16, HeaderBytes.equals(p, name, "x-correlation-id") { continue }
            writeField(p, field, policy: edits.policy, into: &out)
        }
        edits.policy.writeAdded(into: &out)
        for (name, value) in edits.extra {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if let cookie = edits.setCookie {
            out.writeStaticString("Set-Cookie: ")
            out.writeString(cookie)
            out.writeStaticString("\r\n")
        }
        if head.framing == .chunked, !edits.dechunk {
            out.writeStaticString("Transfer-Encoding: chunked\r\n")
        }
        if edits.upgrade, let upgrade = head.upgrade {
            out.writeStaticString("Connection: upgrade\r\nUpgrade: ")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[upgrade]))
            out.writeStaticString("\r\n")
        } else if edits.close {
            out.writeStaticString("Connection: close\r\n")
        } else if edits.http10KeepAlive {
            out.writeStaticString("Connection: keep-alive\r\n")
        }
        if edits.policy.isEmpty || !edits.policy.overrides("x-correlation-id") {
            out.writeStaticString("X-Correlation-Id: ")
            out.writeString(edits.traceID)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
    }
}
