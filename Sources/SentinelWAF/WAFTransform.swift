/// A normalisation applied to a value before a rule tests it (in the rule's order).
public enum WAFTransform: String, Sendable, CaseIterable {
    /// Percent-decoding, repeated (at most 3 passes) while it still changes the value, so
    /// double-encoded payloads (`%252e%252e`) are seen decoded.
    case urlDecode = "url-decode"
    /// `+` becomes a space (form and query encoding).
    case plusToSpace = "plus-to-space"
    /// NUL bytes are removed.
    case removeNulls = "remove-nulls"
    /// Runs of whitespace become one space.
    case compressWhitespace = "compress-whitespace"
    /// `\` becomes `/` (Windows-style paths).
    case backslashToSlash = "backslash-to-slash"
    /// `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&amp;`, `&#NN;`, `&#xHH;` are decoded.
    case htmlEntityDecode = "html-entity-decode"
    /// JSON and JavaScript escapes `\uHHHH` and `\xHH` are decoded (a JSON body's
    /// `"\u003cscript\u003e"` is seen as `<script>`).
    case jsUnescape = "js-unescape"

    public func apply(_ value: [UInt8]) -> [UInt8] {
        switch self {
        case .urlDecode:
            var current = value
            for _ in 0..<3 {
                guard current.contains(0x25) else { break }
                let next = WAFTransform.percentDecode(current)
                if next == current { break }
                current = next
            }
            return current
        case .plusToSpace:
            return value.map { $0 == 0x2B ? 0x20 : $0 }
        case .removeNulls:
            return value.filter { $0 != 0 }
        case .compressWhitespace:
            var out: [UInt8] = []
            out.reserveCapacity(value.count)
            var inSpace = false
            for b in value {
                let space = b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C
                if space {
                    if !inSpace { out.append(0x20) }
                    inSpace = true
                } else {
                    out.append(b)
                    inSpace = false
                }
            }
            return out
        case .backslashToSlash:
            return value.map { $0 == 0x5C ? 0x2F : $0 }
        case .htmlEntityDecode:
            return WAFTransform.entityDecode(value)
        case .jsUnescape:
            return WAFTransform.jsUnescape(value)
        }
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// One pass of percent-decoding; `%u00XX` (IIS) is decoded for code points below 0x100.
    static func percentDecode(_ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var i = 0
        while i < value.count {
            let b = value[i]
            if b == 0x25 {
                if i + 2 < value.count, let h = hex(value[i + 1]), let l = hex(value[i + 2]) {
                    out.append(h << 4 | l)
                    i += 3
                    continue
                }
                if i + 5 < value.count, value[i + 1] | 0x20 == 0x75, value[i + 2] == 0x30, value[i + 3] == 0x30,
                   let h = hex(value[i + 4]), let l = hex(value[i + 5]) {
                    out.append(h << 4 | l)
                    i += 6
                    continue
                }
            }
            out.append(b)
            i += 1
        }
        return out
    }

    static func entityDecode(_ value: [UInt8]) -> [UInt8] {
        guard value.contains(0x26) else { return value }
        let named: [(String, UInt8)] = [("lt", 0x3C), ("gt", 0x3E), ("quot", 0x22), ("apos", 0x27), ("amp", 0x26)]
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var i = 0
        outer: while i < value.count {
            if value[i] == 0x26, let semi = value[(i + 1)...].prefix(10).firstIndex(of: 0x3B) {
                let name = value[(i + 1)..<semi]
                if name.first == 0x23 {  // &#…;
                    var digits = name.dropFirst()
                    var radix: UInt32 = 10
                    if let x = digits.first, x | 0x20 == 0x78 { radix = 16; digits = digits.dropFirst() }
                    if !digits.isEmpty, let code = UInt32(String(decoding: digits, as: UTF8.self), radix: Int(radix)),
                       let scalar = Unicode.Scalar(code) {
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i = semi + 1
                        continue
                    }
                } else {
                    let text = String(decoding: name, as: UTF8.self).lowercased()
                    for (n, b) in named where n == text {
                        out.append(b)
                        i = semi + 1
                        continue outer
                    }
                }
            }
            out.append(value[i])
            i += 1
        }
        return out
    }

    static func jsUnescape(_ value: [UInt8]) -> [UInt8] {
        guard value.contains(0x5C) else { return value }
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var i = 0
        while i < value.count {
            if value[i] == 0x5C, i + 1 < value.count {
                let kind = value[i + 1] | 0x20
                if kind == 0x75, i + 5 < value.count,   // \uHHHH
                   let a = hex(value[i + 2]), let b = hex(value[i + 3]), let c = hex(value[i + 4]), let d = hex(value[i + 5]) {
                    let code = UInt32(a) << 12 | UInt32(b) << 8 | UInt32(c) << 4 | UInt32(d)
                    if let scalar = Unicode.Scalar(code) {
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i += 6
                        continue
                    }
                }
                if kind == 0x78, i + 3 < value.count, let h = hex(value[i + 2]), let l = hex(value[i + 3]) {   // \xHH
                    out.append(h << 4 | l)
                    i += 4
                    continue
                }
            }
            out.append(value[i])
            i += 1
        }
        return out
    }
}
