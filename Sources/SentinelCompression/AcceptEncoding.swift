/// A content coding Sentinel can produce (RFC 9110 §8.4.1): `gzip` (RFC 1952) and `deflate`
/// (the zlib format of RFC 1950, which is what HTTP's `deflate` names).
public enum ContentCoding: UInt8, Sendable, Hashable, CaseIterable {
    case gzip
    case deflate

    /// The token written in `Content-Encoding`.
    public var token: String {
        switch self {
        case .gzip: "gzip"
        case .deflate: "deflate"
        }
    }
}

/// The client's `Accept-Encoding` (RFC 9110 §12.5.3) reduced to what Sentinel needs: the
/// quality it gives each coding Sentinel can produce. Parsed from the field's bytes with no
/// allocation; malformed members are ignored (a member with an unreadable `q` counts as q=0,
/// so a client is never sent a coding it did not clearly accept).
public struct AcceptEncoding: Sendable, Equatable {
    /// Quality in thousandths (0...1000) per coding; nil: not named.
    public var gzip: Int?
    public var deflate: Int?
    /// The `*` member's quality (codings not named); nil: no `*`.
    public var any: Int?
    /// `identity`'s quality; nil: not named.
    public var identity: Int?

    public init() {}

    /// Parses one `Accept-Encoding` field value; call again for each further field line (the
    /// lines form one list).
    public mutating func parse(_ value: UnsafeRawBufferPointer) {
        var i = 0
        let n = value.count
        while i < n {
            // One member: token [ ; q=value ] (other parameters are not defined for codings).
            while i < n, value[i] == UInt8(ascii: ",") || value[i] == UInt8(ascii: " ") || value[i] == UInt8(ascii: "\t") { i += 1 }
            let start = i
            while i < n, value[i] != UInt8(ascii: ","), value[i] != UInt8(ascii: ";"), value[i] != UInt8(ascii: " "),
                value[i] != UInt8(ascii: "\t")
            {
                i += 1
            }
            let token = start..<i
            var q = 1000
            while i < n, value[i] == UInt8(ascii: " ") || value[i] == UInt8(ascii: "\t") { i += 1 }
            while i < n, value[i] == UInt8(ascii: ";") {
                i += 1
                while i < n, value[i] == UInt8(ascii: " ") || value[i] == UInt8(ascii: "\t") { i += 1 }
                let ps = i
                while i < n, value[i] != UInt8(ascii: ","), value[i] != UInt8(ascii: ";") { i += 1 }
                var pe = i
                while pe > ps, value[pe - 1] == UInt8(ascii: " ") || value[pe - 1] == UInt8(ascii: "\t") { pe -= 1 }
                if pe - ps >= 2, value[ps] | 0x20 == UInt8(ascii: "q"), value[ps + 1] == UInt8(ascii: "=") {
                    q = Self.quality(value, ps + 2..<pe) ?? 0
                }
            }
            guard !token.isEmpty else { continue }
            if Self.equals(value, token, "gzip") || Self.equals(value, token, "x-gzip") {
                gzip = max(gzip ?? 0, q)
            } else if Self.equals(value, token, "deflate") {
                deflate = max(deflate ?? 0, q)
            } else if Self.equals(value, token, "identity") {
                identity = max(identity ?? 0, q)
            } else if token.count == 1, value[token.lowerBound] == UInt8(ascii: "*") {
                any = max(any ?? 0, q)
            }
        }
    }

    /// Parses `value` (tests and non-hot callers).
    public init(_ value: String) {
        var copy = value
        copy.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// The quality the client gives `coding` (thousandths): its own member, else `*`'s, else 0.
    public func quality(of coding: ContentCoding) -> Int {
        let own: Int?
        switch coding {
        case .gzip: own = gzip
        case .deflate: own = deflate
        }
        return own ?? any ?? 0
    }

    /// The coding to send: of `preference` (the filter's order), the one the client rates
    /// highest with q > 0, ties going to the earlier; nil: none acceptable (send as is).
    public func choose(from preference: [ContentCoding]) -> ContentCoding? {
        var best: ContentCoding?
        var bestQ = 0
        for coding in preference {
            let q = quality(of: coding)
            if q > bestQ {
                best = coding
                bestQ = q
            }
        }
        return best
    }

    /// A qvalue (RFC 9110 §12.4.2): "0", "0.x{0,3}", "1", "1.0{0,3}"; nil when malformed.
    static func quality(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.count <= 5 else { return nil }
        let first = p[r.lowerBound]
        guard first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var value = Int(first - UInt8(ascii: "0")) * 1000
        if r.count == 1 { return value }
        guard p[r.lowerBound + 1] == UInt8(ascii: ".") else { return nil }
        var scale = 100
        for i in (r.lowerBound + 2)..<r.upperBound {
            let d = p[i]
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            value += Int(d - UInt8(ascii: "0")) * scale
            scale /= 10
        }
        return value <= 1000 ? value : nil
    }

    static func equals(_ p: UnsafeRawBufferPointer, _ r: Range<Int>, _ lower: StaticString) -> Bool {
        guard r.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        for k in 0..<r.count where p[r.lowerBound + k] | 0x20 != l[k] { return false }
        return true
    }
}
