/// Quoted, raw and multi-line strings, with escapes and multi-line dedent.
///
/// Unterminated strings are reported at the opening quote, where the mistake usually is, not
/// at the end of the file where the scanner noticed it.
extension KDLByteParser {
    // MARK: Quoted strings

    /// Parses `"..."` or `"""` multi-line `"""` at `pos`.
    mutating func parseQuotedString() throws(KDLError) -> String {
        let start = pos
        if byte(at: pos + 1) == 0x22 && byte(at: pos + 2) == 0x22 {
            pos += 3
            return try parseMultiLineString(start: start, hashes: nil)
        }
        pos += 1
        var runStart = pos
        var out: [UInt8] = []
        var escaped = false
        while true {
            guard pos < bytes.count else { throw unterminated(start) }
            let b = bytes[pos]
            if b == 0x22 { break }
            if b == 0x5C {
                if !escaped {
                    out.reserveCapacity(pos - runStart + 16)
                    escaped = true
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                try parseEscape(into: &out, stringStart: start, allowWhitespace: true)
                runStart = pos
                continue
            }
            if (b >= 0x0A && b <= 0x0D) || b == 0xC2 || b == 0xE2, newlineLength(at: pos) > 0 {
                throw error(
                    "unterminated string: a quoted string can't contain a literal newline",
                    at: start,
                    expected: "a closing `\"` on the same line",
                    hint: "close the string, write the newline as \\n, or use a multi-line string (\"\"\")"
                )
            }
            pos += 1
        }
        let end = pos
        pos += 1
        if !escaped { return text(from: runStart, to: end) }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end]))
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func unterminated(_ start: Int) -> KDLError {
        error(
            "unterminated string",
            at: start,
            expected: "a closing quote",
            hint: "the string that starts here is never closed"
        )
    }

    /// Parses one escape at `pos` (a backslash) and appends its value to `out`. Whitespace
    /// escapes (`\` followed by whitespace and newlines) produce nothing.
    mutating func parseEscape(into out: inout [UInt8], stringStart: Int, allowWhitespace: Bool) throws(KDLError) {
        let start = pos
        pos += 1
        let c = current
        switch c {
        case 0x6E: out.append(0x0A)  // n
        case 0x72: out.append(0x0D)  // r
        case 0x74: out.append(0x09)  // t
        case 0x5C: out.append(0x5C)  // backslash
        case 0x22: out.append(0x22)  // "
        case 0x62: out.append(0x08)  // b
        case 0x66: out.append(0x0C)  // f
        case 0x73: out.append(0x20)  // s
        case 0x75:  // u
            pos += 1
            try parseUnicodeEscape(into: &out, escapeStart: start)
            return
        default:
            if pos >= bytes.count { throw unterminated(stringStart) }
            if allowWhitespace && (spaceLength(at: pos) > 0 || newlineLength(at: pos) > 0) {
                while true {
                    let n = max(spaceLength(at: pos), newlineLength(at: pos))
                    if n == 0 { break }
                    pos += n
                }
                return
            }
            throw error(
                "invalid escape `\\\(describe(at: pos).trimmingBackticks)`",
                at: start,
                expected: "an escape sequence",
                hint: c == 0x2F
                    ? "`/` needs no escape in KDL 2; write it as is"
                    : "valid escapes are \\n \\r \\t \\\\ \\\" \\b \\f \\s \\u{...}, and `\\` before whitespace"
            )
        }
        pos += 1
    }

    private mutating func parseUnicodeEscape(into out: inout [UInt8], escapeStart: Int) throws(KDLError) {
        guard current == 0x7B else {
            throw error(
                "invalid unicode escape",
                at: escapeStart,
                expected: "`{` after \\u",
                hint: "write unicode escapes as \\u{1F600} (1 to 6 hex digits)"
            )
        }
        pos += 1
        var value: UInt32 = 0
        var count = 0
        while true {
            let b = current
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            default: d = 0xFF
            }
            if d == 0xFF { break }
            count += 1
            if count > 6 {
                throw error(
                    "unicode escape has more than 6 hex digits",
                    at: escapeStart,
                    expected: "1 to 6 hex digits",
                    hint: "the largest code point is \\u{10FFFF}"
                )
            }
            value = value << 4 | d
            pos += 1
        }
        guard count > 0, current == 0x7D else {
            throw error(
                "invalid unicode escape",
                at: escapeStart,
                expected: "1 to 6 hex digits and `}`",
                hint: "write unicode escapes as \\u{1F600}"
            )
        }
        pos += 1
        guard value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else {
            throw error(
                "\\u{\(String(value, radix: 16, uppercase: true))} is not a Unicode scalar value",
                at: escapeStart,
                expected: "a code point up to 10FFFF outside D800-DFFF",
                hint: "surrogate halves and values above 10FFFF can't be represented"
            )
        }
        Self.appendUTF8(value, to: &out)
    }

    static func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | v >> 6))
            out.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | v >> 12))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18))
            out.append(UInt8(0x80 | (v >> 12) & 0x3F))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    // MARK: Raw strings

    /// Parses `#"..."#` (any number of `#`) or the raw multi-line form at `pos`.
    mutating func parseRawString() throws(KDLError) -> String {
        let start = pos
        var hashes = 0
        while current == 0x23 {
            hashes += 1
            pos += 1
        }
        guard current == 0x22 else {
            throw error(
                "expected `\"` after `\(String(repeating: "#", count: hashes))`",
                at: pos,
                expected: "a raw string such as #\"text\"#",
                hint: "KDL 2 keywords are written with one `#`, like #true"
            )
        }
        if byte(at: pos + 1) == 0x22 && byte(at: pos + 2) == 0x22 {
            pos += 3
            return try parseMultiLineString(start: start, hashes: hashes)
        }
        pos += 1
        let bodyStart = pos
        while true {
            guard pos < bytes.count else { throw unterminatedRaw(start, hashes: hashes) }
            let b = bytes[pos]
            if b == 0x22 && closesRaw(at: pos + 1, hashes: hashes) {
                let value = text(from: bodyStart, to: pos)
                pos += 1 + hashes
                return value
            }
            if (b >= 0x0A && b <= 0x0D) || b == 0xC2 || b == 0xE2, newlineLength(at: pos) > 0 {
                throw error(
                    "unterminated raw string: a single-line raw string can't contain a newline",
                    at: start,
                    expected: "`\"\(String(repeating: "#", count: hashes))` on the same line",
                    hint: "use a raw multi-line string (#\"\"\" ... \"\"\"#) for text spanning lines"
                )
            }
            pos += 1
        }
    }

    @inline(__always)
    private func closesRaw(at i: Int, hashes: Int) -> Bool {
        for k in 0..<hashes where byte(at: i + k) != 0x23 { return false }
        return true
    }

    private mutating func unterminatedRaw(_ start: Int, hashes: Int) -> KDLError {
        error(
            "unterminated raw string",
            at: start,
            expected: "`\"\(String(repeating: "#", count: hashes))`",
            hint: "a raw string ends with a quote followed by as many `#` as it started with"
        )
    }

    // MARK: Multi-line strings

    /// Parses the body of a multi-line string; `pos` is just after the opening `"""`.
    /// `hashes` is nil for an escaped string, or the raw string's `#` count.
    ///
    /// Per the spec, whitespace escapes are resolved first, then the text is dedented by the
    /// closing line's whitespace, then the remaining escapes are resolved.
    mutating func parseMultiLineString(start: Int, hashes: Int?) throws(KDLError) -> String {
        let opening = newlineLength(at: pos)
        guard opening > 0 else {
            throw error(
                "a multi-line string must start with a newline after `\"\"\"`",
                at: start,
                expected: "a newline after `\"\"\"`",
                hint: "for a one-line string use a single quote: \"text\""
            )
        }
        pos += opening
        // Source offset where each body line starts, so dedent errors can point at the line.
        var lineStarts = [pos]
        // Body with literal newlines normalised to LF; in escaped strings, whitespace escapes
        // are removed and other escapes kept verbatim (validated) for the final pass.
        var body: [UInt8] = []
        var hasEscapes = false
        while true {
            guard pos < bytes.count else {
                throw error(
                    "unterminated multi-line string",
                    at: start,
                    expected: "a closing `\"\"\"\(String(repeating: "#", count: hashes ?? 0))`",
                    hint: "the multi-line string that starts here is never closed"
                )
            }
            let b = bytes[pos]
            if b == 0x22 && byte(at: pos + 1) == 0x22 && byte(at: pos + 2) == 0x22 {
                if let hashes {
                    if closesRaw(at: pos + 3, hashes: hashes) {
                        pos += 3 + hashes
                        break
                    }
                } else {
                    pos += 3
                    break
                }
            }
            if b == 0x5C && hashes == nil {
                let escapeStart = pos
                var scratch: [UInt8] = []
                try parseEscape(into: &scratch, stringStart: start, allowWhitespace: true)
                if !(scratch.isEmpty) {
                    body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[escapeStart..<pos]))
                    hasEscapes = true
                }
                continue
            }
            let n = newlineLength(at: pos)
            if n > 0 {
                body.append(0x0A)
                pos += n
                lineStarts.append(pos)
                continue
            }
            body.append(b)
            pos += 1
        }
        let dedented = try dedent(body, lineStarts: lineStarts)
        guard hasEscapes else { return String(decoding: dedented, as: UTF8.self) }
        // Resolve the remaining (already validated) escapes.
        var out: [UInt8] = []
        out.reserveCapacity(dedented.count)
        var i = 0
        while i < dedented.count {
            let b = dedented[i]
            guard b == 0x5C else {
                out.append(b)
                i += 1
                continue
            }
            let c = dedented[i + 1]
            i += 2
            switch c {
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x73: out.append(0x20)
            case 0x75:  // u{...}
                i += 1
                var value: UInt32 = 0
                while dedented[i] != 0x7D {
                    let d = dedented[i]
                    value = value << 4 | UInt32(d <= 0x39 ? d - 0x30 : (d | 0x20) - 0x61 + 10)
                    i += 1
                }
                i += 1
                Self.appendUTF8(value, to: &out)
            default: out.append(c)  // \\ and \"
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Removes the closing line's whitespace prefix from every line (see the spec's
    /// multi-line string rules); whitespace-only lines become empty.
    private mutating func dedent(_ body: [UInt8], lineStarts: [Int]) throws(KDLError) -> [UInt8] {
        let lastNewline = body.lastIndex(of: 0x0A)
        let prefixStart = lastNewline.map { $0 + 1 } ?? 0
        let prefix = body[prefixStart...]
        guard Self.isAllSpace(prefix) else {
            throw error(
                "the closing `\"\"\"` of a multi-line string must be on its own line",
                at: lineStarts[lineStarts.count - 1],
                expected: "only whitespace before the closing `\"\"\"`",
                hint:
                    "put the closing quotes on a new line (an escaped newline `\\` at the end of the last line also joins it)"
            )
        }
        guard let lastNewline else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(lastNewline)
        var lineStart = 0
        var lineNumber = 1  // index into lineStarts, 1-based
        while lineStart <= lastNewline {
            var lineEnd = lineStart
            while body[lineEnd] != 0x0A { lineEnd += 1 }
            let line = body[lineStart..<lineEnd]
            if lineStart > 0 { out.append(0x0A) }
            if !Self.isAllSpace(line) {
                guard line.starts(with: prefix) else {
                    throw error(
                        "this line of a multi-line string is not indented like its closing `\"\"\"`",
                        at: lineStarts[lineNumber - 1],
                        expected: "every line to start with the closing line's whitespace",
                        hint: "indent each non-blank line with exactly the whitespace before the closing quotes"
                    )
                }
                out.append(contentsOf: line.dropFirst(prefix.count))
            }
            lineStart = lineEnd + 1
            lineNumber += 1
        }
        return out
    }

    private static func isAllSpace(_ bytes: ArraySlice<UInt8>) -> Bool {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == 0x20 || b == 0x09 {
                i += 1
                continue
            }
            guard b >= 0x80 else { return false }
            // Decode the scalar (the body came from validated input).
            var value = UInt32(b)
            var length = 1
            if b >= 0xF0 {
                length = 4
                value &= 0x07
            } else if b >= 0xE0 {
                length = 3
                value &= 0x0F
            } else {
                length = 2
                value &= 0x1F
            }
            for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
            guard KDLCodePoints.isUnicodeSpace(value) else { return false }
            i += length
        }
        return true
    }
}

extension String {
    fileprivate var trimmingBackticks: String {
        var s = Substring(self)
        if s.first == "`" { s = s.dropFirst() }
        if s.last == "`" { s = s.dropLast() }
        return String(s)
    }
}
