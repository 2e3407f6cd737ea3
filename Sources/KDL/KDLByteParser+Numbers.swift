/// Number literals: decimal (with fraction and exponent), hex, octal and binary.
///
/// Numbers are converted to the exact canonical text stored in `KDLNumber` rather than to a
/// machine type: a config value never changes because of rounding or overflow, and the
/// consumer decides (via `int64Value`) whether the value fits.
extension KDLByteParser {
    mutating func parseNumber() throws(KDLError) -> KDLNumber {
        let start = pos
        var negative = false
        if current == 0x2B || current == 0x2D {
            negative = current == 0x2D
            pos += 1
        }
        let number: KDLNumber
        if current == 0x30, case let marker = byte(at: pos + 1), marker == 0x78 || marker == 0x6F || marker == 0x62 {
            let radix: UInt8 = marker == 0x78 ? 16 : (marker == 0x6F ? 8 : 2)
            pos += 2
            number = try parseRadixDigits(radix: radix, negative: negative, start: start)
        } else {
            number = try parseDecimal(negative: negative, start: start)
        }
        if KDLCodePoints.isIdentifierChar(source.scalar(at: pos).value) {
            var end = pos
            while KDLCodePoints.isIdentifierChar(source.scalar(at: end).value) { end += source.scalar(at: end).length }
            let literal = text(from: start, to: end)
            throw error(
                "`\(literal)` is not a valid number",
                at: start,
                expected: "a number",
                hint: "if this is text, quote it (\"\(literal)\"): bare identifiers can't start with a digit"
            )
        }
        return number
    }

    private func digitValue(_ b: UInt8, radix: UInt8) -> UInt8? {
        let v: UInt8
        switch b {
        case 0x30...0x39: v = b - 0x30
        case 0x61...0x66: v = b - 0x61 + 10
        case 0x41...0x46: v = b - 0x41 + 10
        default: return nil
        }
        return v < radix ? v : nil
    }

    private mutating func parseRadixDigits(radix: UInt8, negative: Bool, start: Int) throws(KDLError) -> KDLNumber {
        let name = radix == 16 ? "hexadecimal" : (radix == 8 ? "octal" : "binary")
        guard digitValue(current, radix: radix) != nil else {
            throw error(
                "expected a \(name) digit after `\(text(from: pos - 2, to: pos))`",
                at: pos,
                expected: "a \(name) digit",
                hint: current == 0x5F ? "`_` may separate digits but can't come first" : nil
            )
        }
        var digits: [UInt8] = []
        while true {
            let b = current
            if b == 0x5F {
                pos += 1
                continue
            }
            guard let d = digitValue(b, radix: radix) else { break }
            if !(digits.isEmpty && d == 0) { digits.append(d) }
            pos += 1
        }
        if digits.count > KDLRadixConverter.maxDigits {
            throw error(
                "\(name) literal is too long (\(digits.count) significant digits)",
                at: start,
                expected: "at most \(KDLRadixConverter.maxDigits) digits",
                hint: "write very large integers in decimal"
            )
        }
        if digits.isEmpty { return KDLNumber(kind: .integer, canonical: "0") }
        let decimal = KDLRadixConverter.decimalString(digits: digits, radix: UInt64(radix))
        return KDLNumber(kind: .integer, canonical: negative ? "-" + decimal : decimal)
    }

    /// Reads `digit (digit | '_')*` into `out` (underscores dropped); false if no digit.
    private mutating func readDigits(into out: inout [UInt8]) -> Bool {
        guard current >= 0x30 && current <= 0x39 else { return false }
        while true {
            let b = current
            if b >= 0x30 && b <= 0x39 {
                out.append(b)
            } else if b != 0x5F {
                return true
            }
            pos += 1
        }
    }

    private mutating func parseDecimal(negative: Bool, start: Int) throws(KDLError) -> KDLNumber {
        var integer: [UInt8] = []
        _ = readDigits(into: &integer)
        var fraction: [UInt8] = []
        var exponent: [UInt8] = []
        var exponentNegative = false
        var hasFraction = false
        var hasExponent = false
        if current == 0x2E {  // .
            pos += 1
            hasFraction = true
            guard readDigits(into: &fraction) else {
                throw error(
                    "expected a digit after the decimal point",
                    at: pos,
                    expected: "a digit",
                    hint: current == 0x5F
                        ? "`_` may separate digits but can't follow `.` directly" : "write 1.0, not 1."
                )
            }
        }
        if current == 0x65 || current == 0x45 {  // e E
            pos += 1
            hasExponent = true
            if current == 0x2B || current == 0x2D {
                exponentNegative = current == 0x2D
                pos += 1
            }
            guard readDigits(into: &exponent) else {
                throw error("expected exponent digits", at: pos, expected: "a digit", hint: "write 1e10 or 1.5E-3")
            }
        }
        // Canonical form: no leading zeros, no `+`, underscores removed.
        var firstSignificant = 0
        while firstSignificant < integer.count - 1 && integer[firstSignificant] == 0x30 { firstSignificant += 1 }
        var text = String(decoding: integer[firstSignificant...], as: UTF8.self)
        if !hasFraction && !hasExponent {
            if negative && text != "0" { text = "-" + text }
            return KDLNumber(kind: .integer, canonical: text)
        }
        if negative { text = "-" + text }
        if hasFraction { text += "." + String(decoding: fraction, as: UTF8.self) }
        if hasExponent {
            var firstExponentDigit = 0
            while firstExponentDigit < exponent.count - 1 && exponent[firstExponentDigit] == 0x30 {
                firstExponentDigit += 1
            }
            text += (exponentNegative ? "E-" : "E+") + String(decoding: exponent[firstExponentDigit...], as: UTF8.self)
        }
        return KDLNumber(kind: .decimal, canonical: text)
    }
}
