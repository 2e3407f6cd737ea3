/// The few DER structures JWT verification needs, built by hand: a SubjectPublicKeyInfo from a
/// JWK's RSA modulus/exponent or P-256 coordinates (then parsed by OpenSSL), and the DER form
/// of an ECDSA signature that JWS carries as raw `r || s`.
enum DER {
    static func length(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        var bytes: [UInt8] = []
        var v = n
        while v > 0 { bytes.insert(UInt8(v & 0xFF), at: 0); v >>= 8 }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }
    static func sequence(_ parts: [UInt8]...) -> [UInt8] { tlv(0x30, parts.flatMap { $0 }) }

    /// A non-negative INTEGER from big-endian magnitude bytes (leading zeros dropped, a zero
    /// byte added when the top bit is set).
    static func unsignedInteger(_ magnitude: [UInt8]) -> [UInt8] {
        var m = Array(magnitude.drop { $0 == 0 })
        if m.isEmpty { m = [0] }
        if m[0] & 0x80 != 0 { m.insert(0, at: 0) }
        return tlv(0x02, m)
    }

    static let rsaEncryption: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    static let ecPublicKey: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let prime256v1: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]

    static func rsaPublicKeyInfo(modulus n: [UInt8], exponent e: [UInt8]) -> [UInt8] {
        let key = sequence(unsignedInteger(n), unsignedInteger(e))
        return sequence(sequence(rsaEncryption, [0x05, 0x00]), tlv(0x03, [0x00] + key))
    }

    static func p256PublicKeyInfo(x: [UInt8], y: [UInt8]) -> [UInt8] {
        sequence(sequence(ecPublicKey, prime256v1), tlv(0x03, [0x00, 0x04] + x + y))
    }

    /// `r || s` (each `half` bytes) → `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`.
    static func ecdsaSignature(raw: [UInt8], half: Int) -> [UInt8]? {
        guard raw.count == 2 * half else { return nil }
        return sequence(unsignedInteger(Array(raw[..<half])), unsignedInteger(Array(raw[half...])))
    }
}
