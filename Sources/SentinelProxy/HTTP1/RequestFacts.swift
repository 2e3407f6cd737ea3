import SentinelHTTP1

/// The strings routing and logging need from a parsed head, copied out once.
///
/// Only what is used is copied: method, host, path and query always; header values only for
/// the names some route matches on, plus the trace fields.
struct RequestFacts {
    var method: String
    var host: String
    var path: String
    var query: String
    var incomingTraceID: String?
    /// The client's W3C trace context, when it sent exactly one valid `traceparent`.
    var traceparent: String?
    private var traceparentFields = 0
    /// For the access log (captured only when it is on).
    var userAgent: String?
    var referer: String?
    /// Lowercase name → values, for the header names routes match on.
    var routedHeaders: [(name: String, value: String)] = []

    init(_ head: RequestHead, bytes p: UnsafeRawBufferPointer, routedHeaderNames: [String] = [], captureLogFields: Bool = false) {
        method = HeaderBytes.string(p, head.methodRange)
        if let authority = head.authority {
            host = HeaderBytes.string(p, authority)
        } else if let h = head.host {
            host = HeaderBytes.string(p, h)
        } else {
            host = ""
        }
        path = HeaderBytes.string(p, head.path)
        query = head.query.map { HeaderBytes.string(p, $0) } ?? ""
        var trace: (x: String?, correlation: String?, request: String?) = (nil, nil, nil)
        // Indexed, not `for field in`: the iterator would copy the inline field list.
        for i in head.fields.indices {
            let field = head.fields[i]
            guard field.name == .other else { continue }
            let name = field.nameRange
            switch name.count {
            case 10 where HeaderBytes.equals(p, name, "x-trace-id"): trace.x = HeaderBytes.string(p, field.valueRange)
            case 11 where HeaderBytes.equals(p, name, "traceparent"):
                // W3C Trace Context: more than one traceparent field is invalid as a whole.
                traceparentFields += 1
                let value = HeaderBytes.string(p, field.valueRange)
                traceparent = traceparentFields == 1 && Self.isValidTraceparent(value) ? value : nil
            case 12 where HeaderBytes.equals(p, name, "x-request-id"): trace.request = HeaderBytes.string(p, field.valueRange)
            case 16 where HeaderBytes.equals(p, name, "x-correlation-id"): trace.correlation = HeaderBytes.string(p, field.valueRange)
            case 10 where captureLogFields && HeaderBytes.equals(p, name, "user-agent"): userAgent = HeaderBytes.string(p, field.valueRange)
            case 7 where captureLogFields && HeaderBytes.equals(p, name, "referer"): referer = HeaderBytes.string(p, field.valueRange)
            default: break
            }
            if !routedHeaderNames.isEmpty {
                let lower = String(decoding: HeaderBytes.lowercased(p, name), as: UTF8.self)
                if routedHeaderNames.contains(lower) {
                    routedHeaders.append((lower, HeaderBytes.string(p, field.valueRange)))
                }
            }
        }
        // The first acceptable one, in `TraceID.incomingHeaders` order (no array per request).
        if let id = trace.request, TraceID.isAcceptable(id) {
            incomingTraceID = id
        } else if let id = trace.correlation, TraceID.isAcceptable(id) {
            incomingTraceID = id
        } else if let id = trace.x, TraceID.isAcceptable(id) {
            incomingTraceID = id
        }
    }

    /// The first value of a header (case-insensitive name) in a parsed head.
    static func value(of name: String, in head: RequestHead, bytes p: UnsafeRawBufferPointer) -> String? {
        let lower = Array(name.lowercased().utf8)
        // Indexed, not `for field in`: the iterator would copy the inline field list.
        for i in head.fields.indices {
            let field = head.fields[i]
            guard HeaderBytes.equals(p, field.nameRange, lowercase: lower) else { continue }
            return HeaderBytes.string(p, field.valueRange)
        }
        return nil
    }

    /// A cookie's value from the request's `Cookie` fields.
    static func cookie(_ name: String, in head: RequestHead, bytes p: UnsafeRawBufferPointer) -> String? {
        // Indexed, not `for field in`: the iterator would copy the inline field list.
        for i in head.fields.indices {
            let field = head.fields[i]
            guard HeaderBytes.equals(p, field.nameRange, "cookie") else { continue }
            let text = HeaderBytes.string(p, field.valueRange)
            for pair in text.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let eq = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<eq] == name { return String(trimmed[trimmed.index(after: eq)...]) }
            }
        }
        return nil
    }

    /// W3C trace context: `00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero.
    static func isValidTraceparent(_ s: String) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2 else { return false }
        let hex = { (x: Substring) in x.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) } }
        guard parts.dropFirst().allSatisfy(hex) else { return false }
        return parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
    }

    /// A new trace context when the client sent none.
    static func newTraceparent<G: RandomNumberGenerator>(using rng: inout G) -> String {
        let words = (rng.next(), rng.next(), rng.next())
        return String(unsafeUninitializedCapacity: 55) { out in
            writeTraceparent(words, into: UnsafeMutableRawBufferPointer(out))
            return 55
        }
    }

    /// Writes a new W3C traceparent (version 00, trace id from the first two words, parent id
    /// from the third, sampled) into the first 55 bytes of `out`.
    static func writeTraceparent(_ words: (UInt64, UInt64, UInt64), into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= 55)
        let digits: StaticString = "0123456789abcdef"
        let hex = digits.utf8Start
        out[0] = UInt8(ascii: "0")
        out[1] = UInt8(ascii: "0")
        out[2] = UInt8(ascii: "-")
        out[35] = UInt8(ascii: "-")
        out[52] = UInt8(ascii: "-")
        out[53] = UInt8(ascii: "0")
        out[54] = UInt8(ascii: "1")
        var bits = words.0
        for i in 3..<19 {
            out[i] = hex[Int(bits & 15)]
            bits >>= 4
        }
        bits = words.1
        for i in 19..<35 {
            out[i] = hex[Int(bits & 15)]
            bits >>= 4
        }
        bits = words.2
        for i in 36..<52 {
            out[i] = hex[Int(bits & 15)]
            bits >>= 4
        }
    }
}
