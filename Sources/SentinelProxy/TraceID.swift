/// Trace-id generation and the rule for trusting an incoming one (§7.3).
///
/// It exists so every response can be correlated with logs, while a client cannot inject
/// header-splitting bytes or unbounded strings through `X-Request-Id` and friends: an incoming
/// id is reused only if it is 1–128 characters of `[A-Za-z0-9._:-]`.
public enum TraceID {
    static let base58 = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    /// Request headers whose value is reused, in order of preference. Sentinel itself sends
    /// only `X-Request-Id` (upstream and to the client); the other two names are the original's.
    public static let incomingHeaders = ["x-request-id", "x-correlation-id", "x-trace-id"]

    public static func isAcceptable(_ candidate: String) -> Bool {
        let bytes = candidate.utf8
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        return bytes.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
                || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
        }
    }

    /// The first acceptable incoming id, else a fresh one.
    public static func resolve<G: RandomNumberGenerator>(
        headerValue: (String) -> String?, format: TraceIDFormat, unixSeconds: Double, using rng: inout G
    ) -> String {
        for name in incomingHeaders {
            if let value = headerValue(name), isAcceptable(value) { return value }
        }
        return generate(format: format, unixSeconds: unixSeconds, using: &rng)
    }

    public static func generate<G: RandomNumberGenerator>(
        format: TraceIDFormat, unixSeconds: Double, using rng: inout G
    ) -> String {
        switch format {
        case .tinyflake: tinyflake(unixSeconds: unixSeconds, using: &rng)
        case .uuid: uuidV4(using: &rng)
        }
    }

    /// 3 Base58 digits of (seconds mod 58³), then 8 random Base58 digits.
    public static func tinyflake<G: RandomNumberGenerator>(unixSeconds: Double, using rng: inout G) -> String {
        // Written straight into the string's storage (11 bytes: a small string, no allocation).
        String(unsafeUninitializedCapacity: 11) { out in
            var t = UInt64(max(0, unixSeconds)) % (58 * 58 * 58)
            for i in stride(from: 2, through: 0, by: -1) {
                out[i] = base58[Int(t % 58)]
                t /= 58
            }
            for i in 3..<11 { out[i] = base58[Int(rng.next(upperBound: UInt64(58)))] }
            return 11
        }
    }

    public static func uuidV4<G: RandomNumberGenerator>(using rng: inout G) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
