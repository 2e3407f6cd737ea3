// Shared by the regression tests and the libFuzzer target (Fuzz/HTTP1Fuzz), which compiles this
// file together with the library sources into one module, hence the conditional import.
#if canImport(SentinelHTTP1)
import SentinelHTTP1
#endif

/// Properties every input must satisfy, whatever its bytes. Input layout: byte 0 selects the
/// limits (bit 0: tiny limits that are easy to hit), the request method a response answers
/// (bits 1–3) and the drip-feed step (bits 4–7); the remaining bytes are the message.
enum HTTP1Invariants {
    static let tinyLimits = HTTP1Limits(
        maxHeaderBytes: 96,
        maxHeaderCount: 4,
        maxHeaderNameBytes: 12,
        maxHeaderValueBytes: 24,
        maxURIBytes: 32,
        maxChunkExtensionBytes: 16
    )
    static let methods: [HTTP1Method] = [.get, .head, .post, .connect, .options, .put, .delete, .other]

    /// The first violated property, or nil.
    static func check(_ input: [UInt8]) -> String? {
        guard let selector = input.first else { return nil }
        let message = Array(input.dropFirst())
        let limits = selector & 1 == 1 ? tinyLimits : HTTP1Limits()
        let step = Int(selector >> 4) + 1
        return checkRequests(message, limits: limits, step: step)
            ?? checkResponse(message, limits: limits, method: methods[Int(selector >> 1) & 7], step: step)
            ?? checkChunked(message, limits: limits, step: step)
    }

    private static func within(_ r: Range<Int>?, _ bound: Int) -> Bool {
        guard let r else { return true }
        return r.lowerBound >= 0 && r.upperBound <= bound
    }

    private static func fieldsOK(_ fields: HTTP1FieldList, _ bound: Int, _ limits: HTTP1Limits) -> Bool {
        fields.count <= limits.maxHeaderCount
            && fields.allSatisfy {
                within($0.nameRange, bound) && within($0.valueRange, bound) && !$0.nameRange.isEmpty
                    && $0.nameRange.count <= limits.maxHeaderNameBytes
                    && $0.valueRange.count <= limits.maxHeaderValueBytes
                    && $0.nameRange.upperBound < $0.valueRange.lowerBound + 1
            }
    }

    private static func endsWithEmptyLine(_ bytes: [UInt8], _ end: Int) -> Bool {
        end >= 4 && end <= bytes.count && bytes[(end - 4)..<end] == [13, 10, 13, 10]
    }

    /// Parses up to four pipelined heads; each must satisfy the offset invariants and parse the
    /// same whole, drip-fed, and when given exactly its own bytes.
    static func checkRequests(_ bytes: [UInt8], limits: HTTP1Limits, step: Int) -> String? {
        var offset = 0
        for _ in 0..<4 {
            let slice = Array(bytes[offset...])
            var parser = HTTP1RequestHeadParser(limits: limits)
            let whole = slice.withUnsafeBytes { parser.parse($0) }
            var drip = HTTP1RequestHeadParser(limits: limits)
            var dripped = RequestParseResult.needMore
            var end = 0
            while end < slice.count, dripped == .needMore {
                end = min(slice.count, end + step)
                dripped = slice[..<end].withUnsafeBytes { drip.parse($0) }
            }
            if dripped != whole { return "request: drip-fed \(dripped) != whole \(whole)" }
            switch whole {
            case .needMore:
                return nil
            case .error(let e):
                guard [400, 414, 431, 501, 505].contains(e.status), e.offset >= 0, e.offset <= slice.count else {
                    return "request: bad error \(e)"
                }
                return nil
            case .head(let h):
                let n = h.headLength
                guard n <= slice.count, endsWithEmptyLine(slice, n) else { return "request: head length \(n)" }
                let ranges = [h.methodRange, h.target, h.path, h.query, h.authority, h.host, h.upgrade]
                guard ranges.allSatisfy({ within($0, n) }), h.connectionOptions.allSatisfy({ within($0, n) }),
                    fieldsOK(h.fields, n, limits), h.target.count <= limits.maxURIBytes,
                    h.path.lowerBound >= h.target.lowerBound, h.path.upperBound <= h.target.upperBound
                else { return "request: range out of bounds \(h)" }
                if h.version == .http1_1 && h.host == nil { return "request: 1.1 without Host accepted" }
                let hopByHop = Array(h.hopByHopFieldIndices)
                if hopByHop != h.fields.indices.filter({ h.fields[$0].isHopByHop }) {
                    return "request: hop-by-hop indices"
                }
                if case .chunked = h.framing, !hopByHop.contains(where: { h.fields[$0].name == .transferEncoding }) {
                    return "request: chunked without a Transfer-Encoding field"
                }
                var exact = HTTP1RequestHeadParser(limits: limits)
                let again = Array(slice[..<n]).withUnsafeBytes { exact.parse($0) }
                if again != whole { return "request: head alone parses differently" }
                if h.framing != .none { return nil }
                offset += n
            }
        }
        return nil
    }

    static func checkResponse(_ bytes: [UInt8], limits: HTTP1Limits, method: HTTP1Method, step: Int) -> String? {
        var parser = HTTP1ResponseHeadParser(limits: limits)
        let whole = bytes.withUnsafeBytes { parser.parse($0, requestMethod: method) }
        var drip = HTTP1ResponseHeadParser(limits: limits)
        var dripped = ResponseParseResult.needMore
        var end = 0
        while end < bytes.count, dripped == .needMore {
            end = min(bytes.count, end + step)
            dripped = bytes[..<end].withUnsafeBytes { drip.parse($0, requestMethod: method) }
        }
        if dripped != whole { return "response: drip-fed \(dripped) != whole \(whole)" }
        switch whole {
        case .needMore:
            return nil
        case .error(let e):
            return e.status == 502 && e.offset >= 0 && e.offset <= bytes.count ? nil : "response: bad error \(e)"
        case .head(let h):
            let n = h.headLength
            guard n <= bytes.count, endsWithEmptyLine(bytes, n), within(h.reason, n), within(h.upgrade, n),
                h.connectionOptions.allSatisfy({ within($0, n) }), fieldsOK(h.fields, n, limits),
                (100...599).contains(h.status)
            else { return "response: bad head \(h)" }
            if method == .head && h.framing != .none { return "response: HEAD with a body" }
            if h.framing == .untilClose && h.keepAlive { return "response: read-until-close kept alive" }
            return nil
        }
    }

    struct ChunkedRun: Equatable {
        var payload: [UInt8] = []
        var consumed = 0
        var done = false
        var error: HTTP1ParseError.Code?
    }

    /// Runs the decoder over `bytes` in pieces of `piece` bytes, checking every range it reports.
    static func runChunked(_ bytes: [UInt8], limits: HTTP1Limits, piece: Int) -> (ChunkedRun, String?) {
        var decoder = ChunkedDecoder(limits: limits)
        var run = ChunkedRun()
        var offset = 0
        while true {
            let end = min(bytes.count, offset + piece)
            let pieceEnd = end
            while true {
                let count = pieceEnd - offset
                let step = bytes[offset..<pieceEnd].withUnsafeBytes { decoder.decode($0) }
                switch step {
                case .data(let r):
                    guard r.lowerBound >= 0, r.upperBound <= count, !r.isEmpty else {
                        return (run, "chunked: bad range")
                    }
                    run.payload += bytes[(offset + r.lowerBound)..<(offset + r.upperBound)]
                    offset += r.upperBound
                    if offset == pieceEnd { break }
                    continue
                case .needMore(let consumed):
                    guard consumed == count else { return (run, "chunked: needMore without consuming all") }
                    offset += consumed
                case .done(let consumed):
                    guard consumed >= 0, consumed <= count, decoder.isComplete else {
                        return (run, "chunked: bad done")
                    }
                    run.consumed = offset + consumed
                    run.done = true
                    return (run, nil)
                case .error(let e):
                    run.error = e.code
                    run.consumed = 0  // where a piecewise run stopped is not comparable
                    return (run, e.status == 400 || e.status == 431 ? nil : "chunked: bad status \(e)")
                }
                break
            }
            run.consumed = offset
            if end == bytes.count { return (run, nil) }
        }
    }

    static func checkChunked(_ bytes: [UInt8], limits: HTTP1Limits, step: Int) -> String? {
        let (whole, problem) = runChunked(bytes, limits: limits, piece: max(bytes.count, 1))
        if let problem { return problem }
        let (pieces, problem2) = runChunked(bytes, limits: limits, piece: step)
        if let problem2 { return problem2 }
        if whole != pieces { return "chunked: piecewise \(pieces) != whole \(whole)" }
        return nil
    }
}
