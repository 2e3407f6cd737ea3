/// Finds CRLF-terminated lines in a growing buffer, resuming where it stopped, so a head that
/// arrives one byte at a time is still scanned once (linear, not quadratic: no re-scan DoS).
///
/// It is the first line of defence: every C0 control byte and DEL is refused here except HTAB
/// inside a line, a LF must follow a CR and a CR must precede a LF. Bare CR and bare LF are the
/// raw material of request smuggling between parsers that split lines differently (RFC 9112 §2.2
/// allows a recipient to accept bare LF; Sentinel never does).
struct HTTP1LineScanner {
    enum Step {
        /// A complete line, without its CRLF. The next line starts at `upperBound + 2`.
        case line(Range<Int>)
        /// The line is incomplete and still within the limit.
        case needMore
        /// No CRLF before `limit`: the line or section is too long.
        case limitExceeded
        case error(HTTP1ParseError.Code, at: Int)
    }

    /// Where the current line starts.
    private(set) var lineStart = 0
    /// How far the current line has been checked.
    private var scanIndex = 0

    mutating func reset(at offset: Int = 0) {
        lineStart = offset
        scanIndex = offset
    }

    /// The next line, or why there is none yet. Bytes at or beyond `limit` are never looked at:
    /// a line that needs them (CRLF included) is `.limitExceeded`, whatever they are.
    mutating func nextLine(_ p: UnsafeRawBufferPointer, limit: Int) -> Step {
        let end = min(p.count, limit)
        var i = max(scanIndex, lineStart)
        while i < end {
            i = HTTP1Bytes.firstControl(p, from: i, to: end)
            if i == end { break }
            let b = p[i]
            if b == HTTP1Bytes.htab {
                i &+= 1
                continue
            }
            if b == HTTP1Bytes.cr {
                if i &+ 1 >= end { break }
                guard p[i &+ 1] == HTTP1Bytes.lf else { return .error(.bareCarriageReturn, at: i) }
                let line = lineStart..<i
                lineStart = i &+ 2
                scanIndex = i &+ 2
                return .line(line)
            }
            return .error(b == HTTP1Bytes.lf ? .bareLineFeed : .controlCharacter, at: i)
        }
        scanIndex = i
        return limit <= p.count ? .limitExceeded : .needMore
    }
}

/// Field-line grammar shared by heads and trailers (RFC 9112 §5).
enum HTTP1FieldLine {
    /// Splits `name ":" OWS value OWS`.
    ///
    /// Refuses obs-fold (a line starting with SP/HTAB: parsers disagree whether it continues the
    /// previous value), whitespace before the colon (`Transfer-Encoding : chunked` is ignored by
    /// some servers and honoured by others: the classic smuggling pair), empty and non-token names.
    static func parse(
        _ p: UnsafeRawBufferPointer,
        _ line: Range<Int>,
        limits: HTTP1Limits
    )
        -> Result<HTTP1Field, HTTP1ParseError.Code>
    {
        let start = line.lowerBound
        var i = start
        while i < line.upperBound && HTTP1Bytes.isTchar(p[i]) { i &+= 1 }
        if i - start > limits.maxHeaderNameBytes { return .failure(.fieldNameTooLong) }
        guard i < line.upperBound else { return .failure(i == start ? .emptyFieldName : .missingColon) }
        let b = p[i]
        if b != HTTP1Bytes.colon {
            if HTTP1Bytes.isOWS(b) { return .failure(i == start ? .obsFold : .whitespaceBeforeColon) }
            return .failure(.invalidFieldName)
        }
        if i == start { return .failure(.emptyFieldName) }
        let name = start..<i
        let value = HTTP1Bytes.trimOWS(p, (i &+ 1)..<line.upperBound)
        if value.count > limits.maxHeaderValueBytes { return .failure(.fieldValueTooLong) }
        return .success(HTTP1Field(name: name, known: HTTP1FieldName.classify(p, name), value: value))
    }
}
