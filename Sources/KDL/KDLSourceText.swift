/// A read-only view of the document's UTF-8 bytes with scalar decoding and line/column lookup.
///
/// The parser works on bytes (a `String.Index` walk is several times slower), but the grammar
/// and the error positions are defined on Unicode scalars. This type bridges the two: it
/// validates the whole input once up front — well-formed UTF-8 and no disallowed literal code
/// points anywhere, comments included — so the parser can decode scalars without re-checking,
/// and it converts byte offsets to `line:column` lazily, only for the offsets that are reported.
struct KDLSourceText {
    let bytes: UnsafeBufferPointer<UInt8>
    let file: String
    /// Cache for `location(at:)`: locations are requested in increasing order while parsing,
    /// so each request only scans the bytes since the previous one (linear overall).
    private var cachedOffset = 0
    private var cachedLine = 1
    private var cachedColumn = 1

    init(bytes: UnsafeBufferPointer<UInt8>, file: String) {
        self.bytes = bytes
        self.file = file
    }

    var count: Int { bytes.count }

    /// Decodes the scalar starting at `i`; the input has been validated, so this never fails.
    /// Returns `(0xFFFF_FFFF, 0)` at the end of input.
    @inline(__always)
    func scalar(at i: Int) -> (value: UInt32, length: Int) {
        guard i < bytes.count else { return (0xFFFF_FFFF, 0) }
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), 3)
        }
        return (
            (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
                | UInt32(bytes[i + 3] & 0x3F), 4
        )
    }

    /// The location of byte offset `offset` (which must start a scalar).
    mutating func location(at offset: Int) -> KDLSourceLocation {
        if offset < cachedOffset {
            cachedOffset = 0
            cachedLine = 1
            cachedColumn = 1
        }
        var i = cachedOffset
        var line = cachedLine
        var column = cachedColumn
        let end = min(offset, bytes.count)
        while i < end {
            let b = bytes[i]
            if b >= 0x20 && b < 0x80 {
                column += 1
                i += 1
                continue
            }
            switch b {
            case 0x0A:
                if !(i > 0 && bytes[i - 1] == 0x0D) {
                    line += 1
                    column = 1
                }
                i += 1
            case 0x0B, 0x0C, 0x0D:
                line += 1
                column = 1
                i += 1
            case 0xC2 where i + 1 < bytes.count && bytes[i + 1] == 0x85:
                line += 1
                column = 1
                i += 2
            case 0xE2
            where i + 2 < bytes.count && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9):
                line += 1
                column = 1
                i += 3
            default:
                if b & 0xC0 != 0x80 { column += 1 }
                i += 1
            }
        }
        cachedOffset = i
        cachedLine = line
        cachedColumn = column
        return KDLSourceLocation(file: file, line: line, column: column)
    }

    /// Checks that the bytes are well-formed UTF-8 (when `checkUTF8`) and contain no disallowed
    /// literal code point (a BOM is allowed only at offset 0). Returns the offending offset and
    /// a description, or nil.
    func firstInvalidCodePoint(checkUTF8: Bool) -> (offset: Int, message: String, hint: String?)? {
        let n = bytes.count
        var i = 0
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                if (b < 0x20 && !(b >= 0x09 && b <= 0x0D)) || b == 0x7F {
                    return (i, "disallowed control character \(Self.hex(UInt32(b))) in the document", Self.escapeHint)
                }
                i += 1
                continue
            }
            let length: Int
            let value: UInt32
            if checkUTF8 {
                guard let decoded = Self.decodeStrict(bytes, at: i) else {
                    return (
                        i, "invalid UTF-8 byte sequence (byte 0x\(String(b, radix: 16, uppercase: true)))",
                        "KDL documents must be UTF-8 encoded"
                    )
                }
                (value, length) = decoded
            } else {
                (value, length) = scalar(at: i)
            }
            if KDLCodePoints.isDisallowed(value) && !(value == 0xFEFF && i == 0) {
                let what =
                    value == 0xFEFF
                    ? "byte order mark (U+FEFF) after the start of the document"
                    : "disallowed code point \(Self.hex(value)) (a bidirectional-text control)"
                return (i, what, Self.escapeHint)
            }
            i += length
        }
        return nil
    }

    private static let escapeHint = "write it as a \\u{...} escape inside a quoted string if you need the character"

    static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Strict UTF-8 decoding of one multi-byte scalar: rejects overlong forms, surrogates,
    /// values above U+10FFFF and truncated sequences.
    private static func decodeStrict(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int)? {
        let n = bytes.count
        let b0 = bytes[i]
        func cont(_ k: Int) -> UInt32? {
            guard i + k < n, bytes[i + k] & 0xC0 == 0x80 else { return nil }
            return UInt32(bytes[i + k] & 0x3F)
        }
        switch b0 {
        case 0xC2...0xDF:
            guard let c1 = cont(1) else { return nil }
            return ((UInt32(b0) & 0x1F) << 6 | c1, 2)
        case 0xE0...0xEF:
            guard let c1 = cont(1), let c2 = cont(2) else { return nil }
            let v = (UInt32(b0) & 0x0F) << 12 | c1 << 6 | c2
            guard v >= 0x800, !(0xD800...0xDFFF).contains(v) else { return nil }
            return (v, 3)
        case 0xF0...0xF4:
            guard let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) else { return nil }
            let v = (UInt32(b0) & 0x07) << 18 | c1 << 12 | c2 << 6 | c3
            guard v >= 0x10000, v <= 0x10FFFF else { return nil }
            return (v, 4)
        default:
            return nil
        }
    }
}
