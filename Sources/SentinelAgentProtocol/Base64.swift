/// Standard base64 (RFC 4648 §4, `+` and `/`) with `=` padding: the encoding of every body
/// carried in agent protocol JSON. Decoding is strict: canonical padding required, no
/// whitespace, no URL-safe alphabet (an invalid string is an error, never guessed at).
public enum AgentBase64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let reverse: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// The encoded length of `count` bytes.
    public static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Appends the encoding of `bytes` to `out`.
    public static func encode(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + encodedCount(bytes.count))
        var it = bytes.makeIterator()
        while let b0 = it.next() {
            let b1 = it.next()
            let b2 = it.next()
            let n = UInt32(b0) << 16 | UInt32(b1 ?? 0) << 8 | UInt32(b2 ?? 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(b1 == nil ? UInt8(ascii: "=") : alphabet[Int(n >> 6 & 63)])
            out.append(b2 == nil ? UInt8(ascii: "=") : alphabet[Int(n & 63)])
        }
    }

    /// The encoding of `bytes` as a string.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        encode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a padded standard base64 string; nil when it is not one.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(UnsafeRawBufferPointer($0)) }
    }

    /// Decodes padded standard base64 bytes; nil when they are not.
    public static func decode(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        guard input.count % 4 == 0 else { return nil }
        if input.isEmpty { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        let table = reverse
        var i = 0
        while i < input.count {
            let last = i + 4 == input.count
            let c0 = table[Int(input[i])], c1 = table[Int(input[i + 1])]
            guard c0 != 0xFF, c1 != 0xFF else { return nil }
            let p2 = input[i + 2] == UInt8(ascii: "="), p3 = input[i + 3] == UInt8(ascii: "=")
            if p2 || p3 {
                // Padding only in the last quantum, and "x=" after "=" is not allowed.
                guard last, p3, !(p2 && !p3) else { return nil }
                if p2 {
                    guard c1 & 0x0F == 0 else { return nil }   // non-canonical trailing bits
                    out.append(c0 << 2 | c1 >> 4)
                } else {
                    let c2 = table[Int(input[i + 2])]
                    guard c2 != 0xFF, c2 & 0x03 == 0 else { return nil }
                    out.append(c0 << 2 | c1 >> 4)
                    out.append(c1 << 4 | c2 >> 2)
                }
            } else {
                let c2 = table[Int(input[i + 2])], c3 = table[Int(input[i + 3])]
                guard c2 != 0xFF, c3 != 0xFF else { return nil }
                out.append(c0 << 2 | c1 >> 4)
                out.append(c1 << 4 | c2 >> 2)
                out.append(c2 << 6 | c3)
            }
            i += 4
        }
        return out
    }
}
