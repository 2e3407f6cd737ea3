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
        /// `clientIP` is an IPv6 address (quoted and bracketed in `Forwarded`).
        var clientIsIPv6 = false
        var scheme: StaticString
        var traceID: String
        var traceparent: Traceparent?
        /// Keep `Connection: upgrade` + `Upgrade` (a WebSocket route).
        var passUpgrade: Bool
        /// Remove `Expect` (Sentinel answers 100-continue itself).
        var dropExpect: Bool
        /// The route's `request-headers` policy.
        var policy = HeaderEdits()
        /// The connection's TLS facts, for a policy with variables (nil: no TLS, or not needed).
        var tls: ConnectionTLS? = nil
        /// The pseudonym of Sentinel's `Via` element; nil: none added (a client's Via passes).
        var via: [UInt8]? = nil
        /// The peer is a trusted proxy: its forwarding fields are kept (and extended).
        var trustedPeer = false
        /// The authority of a request that names none (HTTP/1.0 without `Host`): the address
        /// the client connected to (RFC 9112 §3.3), so the upstream gets a valid `Host`.
        var localAuthority: String? = nil
        /// An OPTIONS request's `Max-Forwards`, already decremented (RFC 9110 §7.6.2); nil:
        /// the client's field, if any, passes unchanged.
        var maxForwards: Int? = nil
        /// The origin-form target (path and query) sent instead of the client's (a `url-rewrite`
        /// filter's), nil: the client's. Built from the client's own checked bytes and the
        /// filter's configured path.
        var target: String? = nil
        /// The `Host` sent instead of the client's (a `url-rewrite` filter's); the client's host
        /// still goes in `X-Forwarded-Host` and `Forwarded`.
        var host: String? = nil
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
    /// place): the client's head (request line and fields, each field at most a byte longer, each
    /// joined X-Forwarded-For / Forwarded / Via value two), the authority three times more (Host,
    /// X-Forwarded-Host, Forwarded's host=; or the connection's address when the request names
    /// none), the client's address twice, the policy's growth, and Sentinel's own fields.
    static func requestBound(_ head: RequestHead, edits: RequestEdits) -> Int {
        4 * head.headLength + 512 + 2 * edits.clientIP.utf8.count + edits.traceID.utf8.count
            + (edits.traceparent?.byteCount ?? 0) + 2 * head.fields.count + edits.policy.growthBound(fields: head.fields.count, tls: edits.tls)
            + (edits.via?.count ?? 0) + 3 * (edits.localAuthority?.utf8.count ?? 0) + (edits.target?.utf8.count ?? 0)
            + (edits.host?.utf8.count ?? 0) + 8
    }

    /// Runs `body` on a writer over `bound` reserved bytes; if the bound was too small (a bug,
    /// never expected), again over a reservation twice the size plus 64 KiB, until it fits.
    static func write(into out: inout ByteBuffer, bound: Int, _ body: (inout RawHeadWriter) -> Void) {
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
        if let target = edits.target {
            out.append(target)
        } else if head.targetForm == .absolute {
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
        var priorForwarded = SmallRanges()
        var priorVia = SmallRanges()
        var hostWritten = false
        var keptForwardedHost = false
        var keptForwardedProto = false
        let trusted = edits.trustedPeer
        // Sentinel's Via element, unless the route's policy writes Via itself (then the client's
        // Via fields pass as they are).
        let ownVia = edits.via != nil && (edits.policy.isEmpty || !edits.policy.mentions("via"))
        // Indexed, not `for field in`: the iterator would copy the inline field list.
        for i in head.fields.indices {
            let field = head.fields[i]
            if field.isHopByHop { continue }
            if field.name == .expect, edits.dropExpect { continue }
            if field.name == .host {
                if edits.host != nil { continue }
                hostWritten = true
            }
            if field.name == .other {
                let kind = ownedRequestField(p, field.nameRange)
                switch kind {
                case .none:
                    break
                case .dropped:
                    // Replaced by Sentinel's own (request id, trace context) or never forwarded.
                    continue
                case .forwardedFor:
                    if trusted { priorForwardedFor.append(field.valueRange) }
                    continue
                case .forwarded:
                    if trusted { priorForwarded.append(field.valueRange) }
                    continue
                case .forwardedHost, .forwardedProto, .realIP:
                    // A trusted proxy's view of the original request is kept; anyone else's is a claim.
                    guard trusted else { continue }
                    if kind == .forwardedHost { keptForwardedHost = true }
                    if kind == .forwardedProto { keptForwardedProto = true }
                case .via:
                    if ownVia {
                        priorVia.append(field.valueRange)
                        continue
                    }
                case .tracestate:
                    // Vendor state belongs to the client's trace context: kept only with it.
                    guard case .incoming = edits.traceparent else { continue }
                case .maxForwards:
                    if edits.maxForwards != nil { continue }
                }
            }
            writeField(p, field, policy: edits.policy, into: &out)
        }
        edits.policy.writeAdded(into: &out, tls: edits.tls)
        // The authority the upstream is asked for: the Host (equal to an absolute-form target's
        // authority: the parser refuses a mismatch), else the address the client connected to.
        let hostRange = head.host ?? head.authority
        func appendHost(into out: inout RawHeadWriter) {
            if let hostRange { out.append(p, hostRange) } else if let local = edits.localAuthority { out.append(local) }
        }
        let hasHost = hostRange != nil || edits.localAuthority != nil
        if let host = edits.host {
            out.append("Host: ")
            out.append(host)
            out.append("\r\n")
        } else if !hostWritten, hasHost {
            out.append("Host: ")
            appendHost(into: &out)
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
        if !keptForwardedProto, policy.isEmpty || !policy.overrides("x-forwarded-proto") {
            out.append("X-Forwarded-Proto: ")
            out.append(edits.scheme)
            out.append("\r\n")
        }
        if !keptForwardedHost, hasHost, policy.isEmpty || !policy.overrides("x-forwarded-host") {
            out.append("X-Forwarded-Host: ")
            appendHost(into: &out)
            out.append("\r\n")
        }
        if policy.isEmpty || !policy.overrides("forwarded") {
            // RFC 7239: for= (an IPv6 address quoted and bracketed), proto=, host= (quoted: a
            // port's ":" is not a token character; the parser admits no quote or backslash in it).
            out.append("Forwarded: ")
            priorForwarded.forEach { prior in
                guard !prior.isEmpty else { return }
                out.append(p, prior)
                out.append(", ")
            }
            if edits.clientIsIPv6 {
                out.append("for=\"[")
                out.append(edits.clientIP)
                out.append("]\"")
            } else {
                out.append("for=")
                out.append(edits.clientIP)
            }
            out.append(";proto=")
            out.append(edits.scheme)
            if hasHost {
                out.append(";host=\"")
                appendHost(into: &out)
                out.append(byte: UInt8(ascii: "\""))
            }
            out.append("\r\n")
        }
        if ownVia, let via = edits.via {
            writeVia(p, prior: priorVia, received: head.version, pseudonym: via, into: &out)
        }
        if let maxForwards = edits.maxForwards {
            out.append("Max-Forwards: ")
            out.append(decimal: maxForwards)
            out.append("\r\n")
        }
        writeOwnField("X-Request-Id: ", "x-request-id", edits.traceID, policy: policy, into: &out)
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

    /// `Via: <prior values>, <received-protocol> <pseudonym>` (RFC 9110 §7.6.3): the message's
    /// earlier hops first, in one field line; the protocol is the version Sentinel received.
    static func writeVia(
        _ p: UnsafeRawBufferPointer, prior: SmallRanges, received: HTTP1Version, pseudonym: [UInt8], into out: inout RawHeadWriter
    ) {
        out.append("Via: ")
        prior.forEach { range in
            guard !range.isEmpty else { return }
            out.append(p, range)
            out.append(", ")
        }
        out.append(received == .http1_0 ? "1.0 " : "1.1 ")
        out.append(pseudonym)
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

    /// Request fields Sentinel sets or vets itself.
    enum OwnedRequestField {
        case none
        /// Never forwarded: the client's request ids (Sentinel sends its own `X-Request-Id`), its
        /// `traceparent` (replaced by the validated or a new one), and the internal-credential
        /// fields the original also stripped.
        case dropped
        case forwardedFor, forwarded, forwardedHost, forwardedProto, realIP, via, tracestate, maxForwards
    }

    /// Classifies a field name by length first: most names cost one switch and no comparison.
    @inline(__always)
    static func ownedRequestField(_ p: UnsafeRawBufferPointer, _ name: Range<Int>) -> OwnedRequestField {
        switch name.count {
        case 3: return HeaderBytes.equals(p, name, "via") ? .via : .none
        case 9:
            if HeaderBytes.equals(p, name, "forwarded") { return .forwarded }
            return HeaderBytes.equals(p, name, "x-real-ip") ? .realIP : .none
        case 10:
            if HeaderBytes.equals(p, name, "x-trace-id") { return .dropped }
            return HeaderBytes.equals(p, name, "tracestate") ? .tracestate : .none
        case 11: return HeaderBytes.equals(p, name, "traceparent") ? .dropped : .none
        case 12:
            if HeaderBytes.equals(p, name, "x-request-id") { return .dropped }
            return HeaderBytes.equals(p, name, "max-forwards") ? .maxForwards : .none
        case 14: return HeaderBytes.equals(p, name, "x-internal-token") ? .dropped : .none
        case 15: return HeaderBytes.equals(p, name, "x-forwarded-for") ? .forwardedFor : .none
        case 16:
            if HeaderBytes.equals(p, name, "x-forwarded-host") { return .forwardedHost }
            return HeaderBytes.equals(p, name, "x-correlation-id") ? .dropped : .none
        case 17: return HeaderBytes.equals(p, name, "x-forwarded-proto") ? .forwardedProto : .none
        case 22: return HeaderBytes.equals(p, name, "authorization-internal") ? .dropped : .none
        default: return .none
        }
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
