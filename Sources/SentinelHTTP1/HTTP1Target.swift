/// Request-target and authority grammar (RFC 9112 §3.2, RFC 3986 §3.2.2), deliberately narrower
/// than the URI RFC: what a reverse proxy routes on must mean the same thing to every parser
/// behind it.
enum HTTP1Target {
    struct Parsed: Equatable {
        var form: RequestTargetForm
        var path: Range<Int>
        var query: Range<Int>?
        var authority: Range<Int>?
    }

    /// Splits and validates `r`, the bytes between the request line's two spaces.
    ///
    /// Rejects fragments, spaces, controls and non-ASCII (which different back ends decode
    /// differently: path-confusion and cache-poisoning vectors), `*` outside OPTIONS, and
    /// authority-form outside CONNECT. Absolute-form is limited to http and https without
    /// userinfo (`http://trusted@evil/` confusion).
    static func parse(
        _ p: UnsafeRawBufferPointer,
        _ r: Range<Int>,
        method: HTTP1Method
    )
        -> Result<Parsed, HTTP1ParseError.Code>
    {
        for i in r where !HTTP1Bytes.isTargetChar(p[i]) { return .failure(.invalidTarget) }
        let first = p[r.lowerBound]
        if first == 0x2F {  // "/"
            if method == .connect { return .failure(.targetFormMismatch) }
            return .success(splitPathQuery(p, r, form: .origin, authority: nil))
        }
        if r.count == 1 && first == 0x2A {  // "*"
            if method != .options { return .failure(.targetFormMismatch) }
            return .success(Parsed(form: .asterisk, path: r, query: nil, authority: nil))
        }
        if method == .connect {
            guard isValidAuthority(p, r, requirePort: true) else { return .failure(.invalidTarget) }
            return .success(Parsed(form: .authority, path: r.upperBound..<r.upperBound, query: nil, authority: r))
        }
        // absolute-form: "http://" or "https://", case-insensitive scheme.
        var i = r.lowerBound
        if HTTP1Bytes.equalsLower(p, i..<min(i + 7, r.upperBound), "http://") {
            i += 7
        } else if HTTP1Bytes.equalsLower(p, i..<min(i + 6, r.upperBound), "https:") && i + 8 <= r.upperBound
            && p[i + 6] == 0x2F && p[i + 7] == 0x2F
        {
            i += 8
        } else {
            return .failure(.invalidTarget)
        }
        var end = i
        while end < r.upperBound && p[end] != 0x2F && p[end] != 0x3F { end += 1 }
        let authority = i..<end
        guard isValidAuthority(p, authority, requirePort: false) else { return .failure(.invalidTarget) }
        return .success(splitPathQuery(p, end..<r.upperBound, form: .absolute, authority: authority))
    }

    private static func splitPathQuery(
        _ p: UnsafeRawBufferPointer,
        _ r: Range<Int>,
        form: RequestTargetForm,
        authority: Range<Int>?
    ) -> Parsed {
        let q = HTTP1Bytes.index(of: 0x3F, in: p, r)
        let query = q < r.upperBound ? (q + 1)..<r.upperBound : nil
        return Parsed(form: form, path: r.lowerBound..<q, query: query, authority: authority)
    }

    /// `host [ ":" port ]` where host is a name of ALPHA / DIGIT / "-" / "." / "_" / "~" (at most
    /// 255 bytes) or a bracketed IPv6 literal, and port is 1–5 digits up to 65535.
    ///
    /// Percent-encoding, sub-delims, userinfo and empty ports are refused: each has been used to
    /// make a proxy and an origin disagree about which virtual host a request is for.
    static func isValidAuthority(_ p: UnsafeRawBufferPointer, _ r: Range<Int>, requirePort: Bool) -> Bool {
        guard !r.isEmpty else { return false }
        var i = r.lowerBound
        if p[i] == 0x5B {  // "["
            let close = HTTP1Bytes.index(of: 0x5D, in: p, r)
            guard close < r.upperBound, close - i - 1 >= 2, close - i - 1 <= 45 else { return false }
            var colons = 0
            for j in (i + 1)..<close {
                guard HTTP1Bytes.isIPv6Char(p[j]) else { return false }
                if p[j] == HTTP1Bytes.colon { colons += 1 }
            }
            guard colons >= 2 else { return false }
            i = close + 1
        } else {
            while i < r.upperBound && HTTP1Bytes.isHostChar(p[i]) { i += 1 }
            guard i > r.lowerBound, i - r.lowerBound <= 255 else { return false }
        }
        if i == r.upperBound { return !requirePort }
        guard p[i] == HTTP1Bytes.colon else { return false }
        let port = (i + 1)..<r.upperBound
        guard port.count >= 1, port.count <= 5, let value = HTTP1Bytes.decimal(p, port) else { return false }
        return value <= 65535
    }
}
