/// Classification of Unicode scalars as the KDL 2 grammar sees them.
///
/// The grammar is defined on code points, not bytes, and several of its classes (whitespace,
/// newlines, code points that may never appear literally) include non-ASCII scalars such as
/// U+3000 or U+2028. Keeping every table in one place means the parser, the validator and the
/// canonical printer can never disagree about what counts as, say, a space — a disagreement
/// would let a printed document fail to re-parse.
enum KDLCodePoints {
    /// `unicode-space`: white space that is not a newline (spec table "Whitespace").
    @inline(__always)
    static func isUnicodeSpace(_ c: UInt32) -> Bool {
        if c < 0x80 { return c == 0x20 || c == 0x09 }
        switch c {
        case 0xA0, 0x1680, 0x2000...0x200A, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// The first code point of a `newline` (CR, LF, NEL, VT, FF, LS, PS; CRLF is one newline).
    @inline(__always)
    static func isNewline(_ c: UInt32) -> Bool {
        switch c {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }

    /// Code points that may not appear literally anywhere in a document ("Disallowed Literal
    /// Code Points"): most C0 controls, DEL, surrogates, bidi overrides (which can make source
    /// look different from what it means) and a BOM anywhere but the very start.
    @inline(__always)
    static func isDisallowed(_ c: UInt32) -> Bool {
        switch c {
        case 0x00...0x08, 0x0E...0x1F, 0x7F, 0xD800...0xDFFF, 0x200E...0x200F, 0x202A...0x202E,
            0x2066...0x2069, 0xFEFF:
            return true
        default: return false
        }
    }

    /// ASCII characters that end a bare identifier: `\/(){};[]"#=`.
    @inline(__always)
    static func isIdentifierPunctuation(_ c: UInt32) -> Bool {
        switch c {
        case 0x5C, 0x2F, 0x28, 0x29, 0x7B, 0x7D, 0x3B, 0x5B, 0x5D, 0x22, 0x23, 0x3D: return true
        default: return false
        }
    }

    /// `identifier-char`: anything but spaces, newlines, the punctuation above and disallowed
    /// code points.
    @inline(__always)
    static func isIdentifierChar(_ c: UInt32) -> Bool {
        if c < 0x80 {
            return c > 0x20 && c != 0x7F && !isIdentifierPunctuation(c)
        }
        return c <= 0x10FFFF && !isUnicodeSpace(c) && !isNewline(c) && !isDisallowed(c)
    }

    @inline(__always)
    static func isDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }

    /// The bare words KDL 2 forbids as identifiers because they read as keywords without `#`.
    static let keywordLikeIdentifiers: Set<String> = ["true", "false", "null", "inf", "-inf", "nan"]

    /// Whether `name` can be written as a bare identifier and read back as the same string.
    ///
    /// Mirrors the grammar's `identifier-string`: not empty, only identifier characters, not
    /// starting like a number (`1x`, `-1x`, `.1`, `+.1`) and not a keyword-like word.
    static func isValidBareIdentifier(_ name: String) -> Bool {
        var scalars = name.unicodeScalars.makeIterator()
        guard let first = scalars.next()?.value else { return false }
        guard isIdentifierChar(first), !isDigit(first) else { return false }
        let second = scalars.next()?.value
        if first == 0x2B || first == 0x2D {  // + -
            if let second {
                if isDigit(second) { return false }
                if second == 0x2E, let third = scalars.next()?.value, isDigit(third) { return false }
            }
        } else if first == 0x2E, let second, isDigit(second) {
            return false
        }
        for s in name.unicodeScalars where !isIdentifierChar(s.value) { return false }
        return !keywordLikeIdentifiers.contains(name)
    }
}
