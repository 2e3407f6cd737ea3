/// Streaming validator of a chunked body (RFC 9112 §7.1) that reports where the payload is.
///
/// The proxy forwards the original chunked bytes once they are validated, so the decoder never
/// copies: `decode` consumes a prefix of the bytes it is given and reports payload ranges in
/// them. Chunk framing is where request smuggling lives (size-line tricks, missing CRLF after
/// data, oversized extensions, lax trailers), so everything outside the grammar is an error:
/// 1–16 hex digits and nothing else before `;` or CRLF, CRLF after every chunk's data, bounded
/// extensions (total over the body) and a bounded, well-formed trailer section.
public struct ChunkedDecoder: Sendable {
    /// Who sends the body: decides the status of errors (400 for a client, 502 for an upstream).
    public enum Sender: Sendable { case client, upstream }

    public let limits: HTTP1Limits
    private let role: HTTP1Role

    private enum State: UInt8 {
        case sizeStart, size, extensions, sizeLF, data, dataCR, dataLF
        case trailerLineStart, trailerName, trailerValue, trailerLF, finalLF, done, failed
    }
    private var state = State.sizeStart
    private var digits = 0
    private var remaining: UInt64 = 0
    private var extensionBytes = 0
    private var trailerBytes = 0
    private var trailerCount = 0
    private var nameBytes = 0
    private var valueBytes = 0
    /// Bit i set while the trailer name read so far is a prefix of `forbiddenTrailers[i]`.
    private var forbiddenCandidates: UInt8 = 0
    private var failure: HTTP1ParseError?

    public init(limits: HTTP1Limits = HTTP1Limits(), sender: Sender = .client) {
        self.limits = limits
        role = sender == .client ? .request : .response
    }

    /// True once the terminating CRLF of the trailer section has been consumed.
    public var isComplete: Bool { state == .done }

    /// Consumes a prefix of `bytes`.
    ///
    /// - `.data(r)`: payload bytes at `r`; everything through `r.upperBound` is consumed, call
    ///   again with the bytes after it.
    /// - `.needMore(consumed:)`: all `consumed` (= `bytes.count`) bytes were framing; send more.
    /// - `.done(consumed:)`: the body ended after `consumed` bytes; the rest is the next message.
    /// - `.error`: the body is invalid; the connection must be closed.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer) -> ChunkedStep {
        if let failure { return .error(failure) }
        if state == .done { return .done(consumed: 0) }
        let n = bytes.count
        var i = 0
        while i < n {
            if state == .data {
                let take = Int(min(remaining, UInt64(n &- i)))
                remaining &-= UInt64(take)
                if remaining == 0 { state = .dataCR }
                return .data(i..<(i &+ take))
            }
            if let code = step(bytes[i]) { return fail(code, at: i) }
            i &+= 1
            if state == .done { return .done(consumed: i) }
        }
        return .needMore(consumed: n)
    }

    private mutating func fail(_ code: HTTP1ParseError.Code, at offset: Int) -> ChunkedStep {
        let error = role.error(code, at: offset)
        failure = error
        state = .failed
        return .error(error)
    }

    /// Advances over one framing byte; returns the broken rule, if any.
    private mutating func step(_ b: UInt8) -> HTTP1ParseError.Code? {
        switch state {
        case .sizeStart, .size:
            if let h = HTTP1Bytes.hexValue(b) {
                guard digits < 16 else { return .invalidChunkSize }
                digits &+= 1
                remaining = remaining << 4 | UInt64(h)
                state = .size
                return nil
            }
            guard state == .size else { return .invalidChunkSize }
            if b == HTTP1Bytes.semicolon {
                state = .extensions
                return countExtensionByte()
            }
            guard b == HTTP1Bytes.cr else { return .invalidChunkSize }  // no BWS, no junk after the size
            state = .sizeLF
        case .extensions:
            if b == HTTP1Bytes.cr {
                state = .sizeLF
                return nil
            }
            // Extensions are ignored, so only their shape is checked: no controls but HTAB.
            guard b == HTTP1Bytes.htab || (b >= 0x20 && b != 0x7F) else { return .invalidChunkExtension }
            return countExtensionByte()
        case .sizeLF:
            guard b == HTTP1Bytes.lf else { return .invalidChunkSize }
            digits = 0
            if remaining == 0 {
                state = .trailerLineStart
            } else {
                state = .data
            }
        case .dataCR:
            guard b == HTTP1Bytes.cr else { return .missingChunkDataCRLF }
            state = .dataLF
        case .dataLF:
            guard b == HTTP1Bytes.lf else { return .missingChunkDataCRLF }
            state = .sizeStart
        case .trailerLineStart, .trailerName, .trailerValue, .trailerLF, .finalLF:
            return trailerStep(b)
        case .data, .done, .failed:
            break  // handled by `decode`
        }
        return nil
    }

    private mutating func countExtensionByte() -> HTTP1ParseError.Code? {
        extensionBytes &+= 1
        return extensionBytes > limits.maxChunkExtensionBytes ? .chunkExtensionsTooLarge : nil
    }

    /// Trailer fields get the head's field-line rules and limits; they are never merged into
    /// the head by this proxy, but an upstream might.
    private mutating func trailerStep(_ b: UInt8) -> HTTP1ParseError.Code? {
        trailerBytes &+= 1
        if trailerBytes > limits.maxHeaderBytes { return .trailerSectionTooLarge }
        switch state {
        case .trailerLineStart:
            if b == HTTP1Bytes.cr {
                state = .finalLF
            } else if HTTP1Bytes.isTchar(b) {
                trailerCount &+= 1
                if trailerCount > limits.maxHeaderCount { return .trailerSectionTooLarge }
                nameBytes = 1
                forbiddenCandidates = Self.allForbidden
                narrowForbidden(b, at: 0)
                state = .trailerName
            } else {
                return .invalidTrailer  // obs-fold, empty name, junk
            }
        case .trailerName:
            if b == HTTP1Bytes.colon {
                if isForbiddenTrailerName() { return .forbiddenTrailerField }
                valueBytes = 0
                state = .trailerValue
            } else if HTTP1Bytes.isTchar(b) {
                narrowForbidden(b, at: nameBytes)
                nameBytes &+= 1
                if nameBytes > limits.maxHeaderNameBytes { return .trailerSectionTooLarge }
            } else {
                return .invalidTrailer
            }
        case .trailerValue:
            if b == HTTP1Bytes.cr {
                state = .trailerLF
            } else if b == HTTP1Bytes.htab || (b >= 0x20 && b != 0x7F) {
                valueBytes &+= 1
                if valueBytes > limits.maxHeaderValueBytes &+ 2 { return .trailerSectionTooLarge }  // + OWS
            } else {
                return .invalidTrailer
            }
        case .trailerLF:
            guard b == HTTP1Bytes.lf else { return .invalidTrailer }
            state = .trailerLineStart
        case .finalLF:
            guard b == HTTP1Bytes.lf else { return .invalidTrailer }
            state = .done
        default:
            break
        }
        return nil
    }
}

extension ChunkedDecoder {
    /// Fields that decide framing or routing must never arrive in trailers (RFC 9110 §6.5.1):
    /// an upstream that merges trailers into the head would re-frame or re-route the message
    /// after the proxy has forwarded it.
    private static let forbiddenTrailers: [StaticString] = [
        "content-length", "transfer-encoding", "host", "connection",
    ]
    private static let allForbidden: UInt8 = 0b1111

    /// Keeps the candidates whose byte at `position` is `b` (ASCII case-insensitive).
    private mutating func narrowForbidden(_ b: UInt8, at position: Int) {
        guard forbiddenCandidates != 0 else { return }
        let lower = b &- 0x41 < 26 ? b | 0x20 : b
        for i in 0..<Self.forbiddenTrailers.count where forbiddenCandidates & (1 << i) != 0 {
            let name = Self.forbiddenTrailers[i]
            if position >= name.utf8CodeUnitCount || name.utf8Start[position] != lower {
                forbiddenCandidates &= ~(1 << i)
            }
        }
    }

    private func isForbiddenTrailerName() -> Bool {
        for i in 0..<Self.forbiddenTrailers.count where forbiddenCandidates & (1 << i) != 0 {
            if Self.forbiddenTrailers[i].utf8CodeUnitCount == nameBytes { return true }
        }
        return false
    }
}

/// One step of `ChunkedDecoder.decode`.
public enum ChunkedStep: Equatable, Sendable {
    /// Payload bytes; consumed through `upperBound`.
    case data(Range<Int>)
    /// Every byte given was consumed as framing; more are needed.
    case needMore(consumed: Int)
    /// The body ended; `consumed` bytes belonged to it.
    case done(consumed: Int)
    case error(HTTP1ParseError)
}
