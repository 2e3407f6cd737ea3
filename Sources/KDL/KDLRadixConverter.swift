/// Exact conversion of hexadecimal, octal and binary digit strings to decimal text.
///
/// KDL integers have no size limit, and Sentinel must never silently round or wrap a number
/// from a config file (a port or a byte limit that quietly changes is worse than an error), so
/// the document keeps every integer as exact decimal text. Decimal literals are copied as they
/// are; other radixes go through this small base-10⁹ bignum. The work is quadratic in the
/// number of digits, so the parser caps non-decimal literals at `maxDigits` to stay linear in
/// the size of the document.
enum KDLRadixConverter {
    /// The longest hex/octal/binary literal (significant digits) the parser accepts.
    static let maxDigits = 4096

    /// Converts `digits` (values `0..<radix`, most significant first) to decimal text.
    static func decimalString(digits: [UInt8], radix: UInt64) -> String {
        // Feed several digits per step: radix^k stays below 2^28 so limb * multiplier + carry
        // fits in 64 bits with limbs below 10^9.
        let perStep: Int
        switch radix {
        case 2: perStep = 27
        case 8: perStep = 9
        default: perStep = 6
        }
        let base: UInt64 = 1_000_000_000
        var limbs: [UInt64] = [0]  // little-endian, each < 10^9
        var index = 0
        while index < digits.count {
            let end = min(index + perStep, digits.count)
            var multiplier: UInt64 = 1
            var addend: UInt64 = 0
            for d in digits[index..<end] {
                multiplier *= radix
                addend = addend * radix + UInt64(d)
            }
            var carry = addend
            for j in limbs.indices {
                let product = limbs[j] * multiplier + carry
                limbs[j] = product % base
                carry = product / base
            }
            while carry > 0 {
                limbs.append(carry % base)
                carry /= base
            }
            index = end
        }
        var text = String(limbs[limbs.count - 1])
        for limb in limbs.dropLast().reversed() {
            let part = String(limb)
            text += String(repeating: "0", count: 9 - part.count) + part
        }
        return text
    }
}
