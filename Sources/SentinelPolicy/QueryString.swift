/// Splits a raw query string into percent-decoded name/value pairs.
///
/// It exists because query conditions compare decoded values (`?q=a%20b` equals `a b`), and the
/// router must not pull in Foundation for it. Only `%XX` is decoded (not `+`), as the original
/// does; a malformed escape is kept literally rather than rejected, since routing is not validation.
enum QueryString {
    static func parse(_ query: String) -> [(name: String, value: String)] {
        guard !query.isEmpty else { return [] }
        var result: [(name: String, value: String)] = []
        for pair in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let eq = pair.firstIndex(of: UInt8(ascii: "=")) {
                result.append((decode(pair[..<eq]), decode(pair[pair.index(after: eq)...])))
            } else {
                result.append((decode(pair[...]), ""))
            }
        }
        return result
    }

    static func decode(_ bytes: Substring.UTF8View.SubSequence) -> String {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(Substring(bytes)) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"),
                let i1 = bytes.index(index, offsetBy: 1, limitedBy: bytes.endIndex), i1 < bytes.endIndex,
                let i2 = bytes.index(index, offsetBy: 2, limitedBy: bytes.endIndex), i2 < bytes.endIndex,
                let high = hexValue(bytes[i1]), let low = hexValue(bytes[i2])
            {
                out.append(high << 4 | low)
                index = bytes.index(after: i2)
            } else {
                out.append(byte)
                index = bytes.index(after: index)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
