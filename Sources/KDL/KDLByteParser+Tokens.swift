/// Values: identifiers, keywords and the dispatch between them, numbers and strings.
///
/// The dispatch is decided by the first one or two bytes, as the KDL 2 grammar was designed
/// to allow, so no token needs backtracking; the errors for the classic mistakes (KDL 1
/// `true`, an identifier that starts like a number) carry a hint with the fix.
extension KDLByteParser {
    /// Parses one string, number or keyword at `pos`.
    mutating func parseToken(expected: String) throws(KDLError) -> KDLValue.Kind {
        let b = current
        switch b {
        case 0x22:  // "
            return .string(try parseQuotedString())
        case 0x23:  // #
            let next = byte(at: pos + 1)
            if next == 0x23 || next == 0x22 { return .string(try parseRawString()) }
            return try parseKeyword()
        case 0x30...0x39:
            return .number(try parseNumber())
        case 0x2B, 0x2D:  // + -
            let next = byte(at: pos + 1)
            if next >= 0x30 && next <= 0x39 { return .number(try parseNumber()) }
            if next == 0x2E, case let third = byte(at: pos + 2), third >= 0x30 && third <= 0x39 {
                throw leadingDotError()
            }
            return .string(try parseIdentifier(expected: expected))
        case 0x2E:  // .
            let next = byte(at: pos + 1)
            if next >= 0x30 && next <= 0x39 { throw leadingDotError() }
            return .string(try parseIdentifier(expected: expected))
        default:
            return .string(try parseIdentifier(expected: expected))
        }
    }

    private mutating func leadingDotError() -> KDLError {
        let start = pos
        var end = pos
        while KDLCodePoints.isIdentifierChar(source.scalar(at: end).value) { end += source.scalar(at: end).length }
        let literal = text(from: start, to: end)
        return error(
            "`\(literal)` is not a valid number or identifier",
            at: start,
            expected: "a value",
            hint: "numbers need a digit before the decimal point (write 0.5, not .5); quote it if it is text"
        )
    }

    /// Parses a bare identifier string.
    mutating func parseIdentifier(expected: String) throws(KDLError) -> String {
        let start = pos
        while true {
            let b = current
            if b < 0x80 {
                guard b > 0x20 && b != 0x7F && !KDLCodePoints.isIdentifierPunctuation(UInt32(b)) else { break }
                pos += 1
            } else {
                let (value, length) = source.scalar(at: pos)
                guard KDLCodePoints.isIdentifierChar(value) else { break }
                pos += length
            }
        }
        if pos == start {
            throw error("unexpected \(describe(at: pos))", at: pos, expected: expected, hint: punctuationHint(at: pos))
        }
        let name = text(from: start, to: pos)
        if pos - start <= 5, Self.mayBeKeywordLike(bytes[start]), KDLCodePoints.keywordLikeIdentifiers.contains(name) {
            let hint: String
            switch name {
            case "true", "false": hint = "KDL 2 booleans are written #true / #false"
            case "null": hint = "KDL 2 writes null as #null"
            default: hint = "KDL 2 writes this number as #\(name); quote it (\"\(name)\") if you mean the text"
            }
            throw error("bare `\(name)` is not allowed", at: start, expected: expected, hint: hint)
        }
        if name == "r" && current == 0x23 {
            throw error(
                "KDL 1 raw string syntax",
                at: start,
                expected: expected,
                hint: "KDL 2 raw strings are written #\"...\"# (no leading r)"
            )
        }
        return name
    }

    /// First bytes of `true false null inf -inf nan`: skips the set lookup for most names.
    @inline(__always)
    private static func mayBeKeywordLike(_ b: UInt8) -> Bool {
        b == 0x74 || b == 0x66 || b == 0x6E || b == 0x69 || b == 0x2D
    }

    private func punctuationHint(at i: Int) -> String? {
        switch byte(at: i) {
        case 0x7B: return "a `{` opens a children block and must follow a node name"
        case 0x7D: return "there is no open `{` for this `}`"
        case 0x3D: return "a property is written key=value with a string key"
        case 0x5B, 0x5D: return "`[` and `]` are reserved; quote strings that contain them"
        case 0x29: return "there is no open `(` for this `)`"
        case 0x3B: return "`;` ends a node; remove the extra `;` or put a value before it"
        default: return nil
        }
    }

    /// Parses `#true`, `#false`, `#null`, `#inf`, `#-inf` or `#nan`.
    mutating func parseKeyword() throws(KDLError) -> KDLValue.Kind {
        let start = pos
        pos += 1
        while KDLCodePoints.isIdentifierChar(source.scalar(at: pos).value) { pos += source.scalar(at: pos).length }
        switch text(from: start + 1, to: pos) {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "null": return .null
        case "inf": return .number(KDLNumber(kind: .infinity, canonical: "#inf"))
        case "-inf": return .number(KDLNumber(kind: .negativeInfinity, canonical: "#-inf"))
        case "nan": return .number(KDLNumber(kind: .nan, canonical: "#nan"))
        case let word:
            throw error(
                word.isEmpty ? "unexpected `#`" : "unknown keyword `#\(word)`",
                at: start,
                expected: "a value",
                hint: "KDL 2 keywords are #true, #false, #null, #inf, #-inf and #nan; raw strings are #\"...\"#"
            )
        }
    }
}
