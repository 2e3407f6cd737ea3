/// Strict, incremental HTTP/1.1 request-head parser working on raw bytes.
///
/// The connection keeps one parser and calls `parse` with *all* bytes received so far for the
/// current head (the buffer must start at the head's first byte and only grow between calls).
/// The parser remembers how far it has checked, so a head drip-fed one byte at a time costs
/// linear time. After `.head` or `.error` it is ready for the next head, whose bytes start at
/// `headLength` (plus the body) of the previous buffer. After `.error`, close the connection.
///
/// It is stricter than llhttp wherever two parsers could disagree about where a request ends or
/// what it addresses (request smuggling, RFC 9112 §6.3 and §11); see docs/http1-parser.md.
/// Typical heads (≤ 24 fields) are parsed without any heap allocation.
public struct HTTP1RequestHeadParser: Sendable {
    public let limits: HTTP1Limits

    private enum State { case requestLine, fields }
    private var state = State.requestLine
    private var section = HTTP1FieldSection()
    private var head = RequestHead()
    private var skippedEmptyLine = false
    /// The last call completed a head (`completedHead` holds it until the next call).
    private var completed = false

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    /// Forgets any partly parsed head.
    public mutating func reset() {
        completed = false
        state = .requestLine
        section.reset()
        head.clear()
        skippedEmptyLine = false
    }

    /// Parses the head at the start of `bytes`: all bytes received so far for this head, starting
    /// at its first byte. Ranges in the result index `bytes`.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> RequestParseResult {
        switch parseInPlace(bytes) {
        case .needMore: return .needMore
        case .error(let error): return .error(error)
        case .complete:
            defer { reset() }
            return .head(head)
        }
    }

    /// The head of the last `parseInPlace` that answered `.complete`, valid until the next call
    /// (or `reset`). Read in place: a head is a large value, and returning it copies it.
    public var completedHead: RequestHead {
        _read { yield head }
    }

    /// `parse` without copying the head out: `.complete` leaves it in `completedHead`.
    public mutating func parseInPlace(_ bytes: UnsafeRawBufferPointer) -> HeadParseStatus {
        if completed { reset() }
        if bytes.count < section.scanner.lineStart { reset() }  // caller broke the contract: start over
        if state == .requestLine {
            while true {
                let limit = section.scanner.lineStart &+ limits.maxRequestLineBytes
                switch section.scanner.nextLine(bytes, limit: limit) {
                case .needMore:
                    return .needMore
                case .limitExceeded:
                    return fail(.uriTooLong, at: limit)
                case .error(let code, let at):
                    return fail(code, at: at)
                case .line(let line):
                    if line.isEmpty {
                        // RFC 9112 §2.2: at least one empty line before the request line SHOULD be
                        // ignored. One is enough for real clients; more is a probe or a flood.
                        if skippedEmptyLine { return fail(.tooManyEmptyLines, at: line.lowerBound) }
                        skippedEmptyLine = true
                        continue
                    }
                    if let code = parseRequestLine(bytes, line) { return fail(code, at: line.lowerBound) }
                    state = .fields
                    section.begin()
                }
                break
            }
        }
        switch section.parse(bytes, fields: &head.fields, limits: limits, role: .request) {
        case .needMore:
            return .needMore
        case .error(let code, let at):
            return fail(code, at: at)
        case .done(let end):
            return finish(bytes, end: end)
        }
    }

    private mutating func fail(_ code: HTTP1ParseError.Code, at offset: Int) -> HeadParseStatus {
        reset()
        return .error(HTTP1Role.request.error(code, at: offset))
    }

    /// `method SP request-target SP HTTP-version`, exactly one SP each (RFC 9112 §3): other
    /// whitespace is how a request line is made to mean different things to different parsers.
    private mutating func parseRequestLine(_ p: UnsafeRawBufferPointer, _ line: Range<Int>) -> HTTP1ParseError.Code? {
        let sp1 = HTTP1Bytes.index(of: HTTP1Bytes.sp, in: p, line)
        guard sp1 > line.lowerBound, sp1 < line.upperBound else { return .invalidRequestLine }
        let method = line.lowerBound..<sp1
        guard method.count <= HTTP1Limits.maxMethodBytes, method.allSatisfy({ HTTP1Bytes.isTchar(p[$0]) }) else {
            return .invalidMethod
        }
        let sp2 = HTTP1Bytes.index(of: HTTP1Bytes.sp, in: p, (sp1 &+ 1)..<line.upperBound)
        guard sp2 < line.upperBound, sp2 > sp1 &+ 1 else { return .invalidRequestLine }
        let target = (sp1 &+ 1)..<sp2
        let versionBytes = (sp2 &+ 1)..<line.upperBound
        if HTTP1Bytes.index(of: HTTP1Bytes.sp, in: p, versionBytes) != versionBytes.upperBound {
            return .invalidRequestLine
        }
        if target.count > limits.maxURIBytes { return .uriTooLong }
        switch HTTP1Version.parse(p, versionBytes) {
        case .failure(let code): return code
        case .success(let version): head.version = version
        }
        head.method = HTTP1Method.classify(p, method)
        head.methodRange = method
        head.target = target
        switch HTTP1Target.parse(p, target, method: head.method) {
        case .failure(let code):
            return code
        case .success(let parsed):
            head.targetForm = parsed.form
            head.path = parsed.path
            head.query = parsed.query
            head.authority = parsed.authority
        }
        return nil
    }

    /// Derives framing and connection facts once every field is known (RFC 9112 §6.1, §6.3, §9.3).
    private mutating func finish(_ p: UnsafeRawBufferPointer, end: Int) -> HeadParseStatus {
        let at = section.start
        if head.version == .http1_1 && section.facts.host == nil { return fail(.missingHost, at: at) }
        if let authority = head.authority, let host = section.facts.host,
            !HTTP1Bytes.equalsIgnoringCase(p, authority, host)
        {
            // RFC 9112 §3.2.2 says to ignore Host here; refusing instead means the proxy and the
            // upstream (which may read Host) can never route one request to two virtual hosts.
            return fail(.hostAuthorityMismatch, at: at)
        }
        if section.facts.transferEncodingFields > 0 {
            // RFC 9112 §6.1: TE in HTTP/1.0 means faulty framing. §6.3: TE with CL is a smuggling
            // attempt. Only a single, final `chunked` is understood; anything else is not guessed.
            if head.version == .http1_0 { return fail(.transferEncodingInHTTP10, at: at) }
            if section.facts.contentLengthFields > 0 { return fail(.contentLengthWithTransferEncoding, at: at) }
            if section.facts.chunkedCount > 1 { return fail(.invalidTransferEncoding, at: at) }
            if section.facts.chunkedNotLast { return fail(.chunkedNotFinal, at: at) }
            if section.facts.otherCodings > 0 || section.facts.chunkedCount == 0 {
                return fail(.unsupportedTransferCoding, at: at)
            }
            head.framing = .chunked
        } else if let length = section.facts.contentLength {
            head.framing = .contentLength(length)
        } else {
            head.framing = .none
        }
        section.facts.markConnectionListed(p, &head.fields)
        head.headLength = end
        head.host = section.facts.host
        head.keepAlive = section.facts.keepAlive(version: head.version)
        head.connectionOptions = section.facts.connectionOptions
        head.expect100Continue = section.facts.expect100Continue
        head.upgrade = section.facts.upgradeOption ? section.facts.upgrade : nil
        completed = true
        return .complete
    }
}
