import SentinelHTTP1

/// Parses `text` in one call with a fresh parser.
func parseRequest(_ text: String, limits: HTTP1Limits = HTTP1Limits()) -> RequestParseResult {
    parseRequest(Array(text.utf8), limits: limits)
}

func parseRequest(_ bytes: [UInt8], limits: HTTP1Limits = HTTP1Limits()) -> RequestParseResult {
    var parser = HTTP1RequestHeadParser(limits: limits)
    return bytes.withUnsafeBytes { parser.parse($0) }
}

/// Feeds growing prefixes of `bytes` (each `step` bytes longer) to one parser, as a connection
/// does when bytes trickle in; returns the first result that is not `.needMore`.
func parseRequestDripping(_ bytes: [UInt8], step: Int = 1, limits: HTTP1Limits = HTTP1Limits()) -> RequestParseResult {
    var parser = HTTP1RequestHeadParser(limits: limits)
    var end = 0
    while end < bytes.count {
        end = min(bytes.count, end + step)
        let result = bytes[..<end].withUnsafeBytes { parser.parse($0) }
        if result != .needMore { return result }
    }
    return .needMore
}

func parseResponse(
    _ text: String,
    method: HTTP1Method = .get,
    limits: HTTP1Limits = HTTP1Limits()
)
    -> ResponseParseResult
{
    var parser = HTTP1ResponseHeadParser(limits: limits)
    return Array(text.utf8).withUnsafeBytes { parser.parse($0, requestMethod: method) }
}

extension RequestParseResult {
    var head: RequestHead? {
        if case .head(let head) = self { return head }
        return nil
    }
    var error: HTTP1ParseError? {
        if case .error(let error) = self { return error }
        return nil
    }
}

extension ResponseParseResult {
    var head: ResponseHead? {
        if case .head(let head) = self { return head }
        return nil
    }
    var error: HTTP1ParseError? {
        if case .error(let error) = self { return error }
        return nil
    }
}

extension String {
    /// The text of `range` in this string's UTF-8 bytes.
    subscript(bytes range: Range<Int>) -> String {
        let utf8 = Array(self.utf8)
        return String(decoding: utf8[range], as: UTF8.self)
    }
    subscript(bytes range: Range<Int>?) -> String? {
        range.map { self[bytes: $0] }
    }
}

/// Result of running a whole chunked body through a decoder fed in pieces of `piece` bytes.
struct ChunkedOutcome: Equatable {
    var payload: [UInt8] = []
    var consumed = 0
    var done = false
    var error: HTTP1ParseError.Code?
}

func decodeChunked(_ bytes: [UInt8], piece: Int = .max, limits: HTTP1Limits = HTTP1Limits()) -> ChunkedOutcome {
    var decoder = ChunkedDecoder(limits: limits)
    var outcome = ChunkedOutcome()
    var start = 0
    while start < bytes.count || start == 0 {
        let end = min(bytes.count, start + min(piece, bytes.count - start))
        var offset = start
        loop: while true {
            let step = bytes[offset..<end].withUnsafeBytes { decoder.decode($0) }
            switch step {
            case .data(let r):
                outcome.payload += bytes[(offset + r.lowerBound)..<(offset + r.upperBound)]
                offset += r.upperBound
                if offset == end { break loop }
            case .needMore(let consumed):
                offset += consumed
                break loop
            case .done(let consumed):
                outcome.consumed = offset + consumed
                outcome.done = true
                return outcome
            case .error(let e):
                outcome.error = e.code
                return outcome
            }
        }
        outcome.consumed = offset
        start = end
        if end == bytes.count { break }
    }
    return outcome
}
