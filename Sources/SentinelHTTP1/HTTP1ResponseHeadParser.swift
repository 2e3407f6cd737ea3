/// Strict, incremental HTTP/1.1 response-head parser for upstream responses.
///
/// Same contract as `HTTP1RequestHeadParser`: pass all bytes received so far for the current
/// head. An upstream is trusted no more than a client: a response whose framing two parsers
/// could read differently (response splitting and desync into the connection pool) is refused
/// with 502 rather than guessed.
public struct HTTP1ResponseHeadParser: Sendable {
    public let limits: HTTP1Limits

    private enum State { case statusLine, fields }
    private var state = State.statusLine
    private var section = HTTP1FieldSection()
    private var head = ResponseHead()
    /// The last call completed a head (`completedHead` holds it until the next call).
    private var completed = false

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    public mutating func reset() {
        completed = false
        state = .statusLine
        section.reset()
        head.clear()
    }

    /// Parses the head of the response to a request with method `requestMethod` (it decides
    /// framing: a HEAD response has no body, a 2xx to CONNECT is a tunnel).
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, requestMethod: HTTP1Method) -> ResponseParseResult {
        switch parseInPlace(bytes, requestMethod: requestMethod) {
        case .needMore: return .needMore
        case .error(let error): return .error(error)
        case .complete:
            defer { reset() }
            return .head(head)
        }
    }

    /// The head of the last `parseInPlace` that answered `.complete`, valid until the next call
    /// (or `reset`). Read in place: a head is a large value, and returning it copies it.
    public var completedHead: ResponseHead {
        _read { yield head }
    }

    /// `parse` without copying the head out: `.complete` leaves it in `completedHead`.
    public mutating func parseInPlace(_ bytes: UnsafeRawBufferPointer, requestMethod: HTTP1Method) -> HeadParseStatus {
        if completed { reset() }
        if bytes.count < section.scanner.lineStart { reset() }
        if state == .statusLine {
            // A status line is short; the field limit bounds it too.
            switch section.scanner.nextLine(bytes, limit: limits.maxHeaderBytes) {
            case .needMore:
                return .needMore
            case .limitExceeded:
                return fail(.headerSectionTooLarge, at: limits.maxHeaderBytes)
            case .error(let code, let at):
                return fail(code, at: at)
            case .line(let line):
                if let code = parseStatusLine(bytes, line) { return fail(code, at: line.lowerBound) }
                state = .fields
                section.begin()
            }
        }
        switch section.parse(bytes, fields: &head.fields, limits: limits, role: .response) {
        case .needMore:
            return .needMore
        case .error(let code, let at):
            return fail(code, at: at)
        case .done(let end):
            return finish(bytes, end: end, requestMethod: requestMethod)
        }
    }

    private mutating func fail(_ code: HTTP1ParseError.Code, at offset: Int) -> HeadParseStatus {
        reset()
        return .error(HTTP1Role.response.error(code, at: offset))
    }

    /// `HTTP/1.x SP 3DIGIT SP reason`; the SP before an empty reason may be missing.
    private mutating func parseStatusLine(_ p: UnsafeRawBufferPointer, _ line: Range<Int>) -> HTTP1ParseError.Code? {
        let s = line.lowerBound
        guard line.count >= 12, p[s + 8] == HTTP1Bytes.sp else { return .invalidStatusLine }
        switch HTTP1Version.parse(p, s..<(s + 8)) {
        case .failure(let code): return code
        case .success(let version): head.version = version
        }
        guard HTTP1Bytes.isDigit(p[s + 9]), HTTP1Bytes.isDigit(p[s + 10]), HTTP1Bytes.isDigit(p[s + 11]) else {
            return .invalidStatus
        }
        let status = Int(p[s + 9] - 0x30) * 100 + Int(p[s + 10] - 0x30) * 10 + Int(p[s + 11] - 0x30)
        guard status >= 100, status <= 599 else { return .invalidStatus }
        head.status = status
        if line.count == 12 {
            head.reason = line.upperBound..<line.upperBound
        } else {
            guard p[s + 12] == HTTP1Bytes.sp else { return .invalidStatus }
            head.reason = (s + 13)..<line.upperBound
        }
        return nil
    }

    /// RFC 9112 §6.3, in order, after refusing every ambiguous combination.
    private mutating func finish(
        _ p: UnsafeRawBufferPointer,
        end: Int,
        requestMethod: HTTP1Method
    )
        -> HeadParseStatus
    {
        let at = section.start
        let hasTE = section.facts.transferEncodingFields > 0
        if hasTE {
            if head.version == .http1_0 { return fail(.transferEncodingInHTTP10, at: at) }
            if section.facts.contentLengthFields > 0 { return fail(.contentLengthWithTransferEncoding, at: at) }
            if section.facts.chunkedCount > 1 { return fail(.invalidTransferEncoding, at: at) }
            // Only a single `chunked` is understood. Another coding (gzip, …) would have to reach
            // the client named, and a proxy re-frames the body: forwarding it without its
            // Transfer-Encoding hands the client bytes it cannot decode; "chunked, gzip" (read
            // to close) is the same. Refused (502) rather than passed on wrong.
            if section.facts.otherCodings > 0 || section.facts.chunkedNotLast || section.facts.chunkedCount == 0 {
                return fail(.unsupportedTransferCoding, at: at)
            }
        }
        let status = head.status
        if requestMethod == .head || status < 200 || status == 204 || status == 304 {
            head.framing = .none
        } else if requestMethod == .connect && status < 300 {
            head.framing = .tunnel
        } else if hasTE {
            head.framing = .chunked
        } else if let length = section.facts.contentLength {
            head.framing = .contentLength(length)
        } else {
            head.framing = .untilClose
        }
        section.facts.markConnectionListed(p, &head.fields)
        head.headLength = end
        switch head.framing {
        case .untilClose, .tunnel: head.keepAlive = false
        default: head.keepAlive = section.facts.keepAlive(version: head.version)
        }
        head.connectionOptions = section.facts.connectionOptions
        head.upgrade = section.facts.upgradeOption ? section.facts.upgrade : nil
        completed = true
        return .complete
    }
}
