/// Signs and checks sticky-session cookie values of the form `<target index>.<16 hex digits>`, the
/// hex being the first 8 bytes of HMAC-SHA256(key, "<index>" NUL "<target address>").
///
/// Why it exists: an unsigned index would let any client choose its backend, pile load onto one
/// target, or keep reaching a target the balancer would not give it. The 64-bit tag makes a forged
/// value a 2⁻⁶⁴ guess per request. Binding the address (the original signed the index alone) means a
/// reload that reorders or replaces targets invalidates old cookies instead of silently sending
/// clients to whatever target now has their index. Tags are compared in constant time.
public struct StickyCookie: Sendable {
    /// Bytes of HMAC kept in the cookie.
    static let tagBytes = 8
    private let mac: HMACSHA256

    /// `key` must be secret and the same on every worker that should honour the cookie.
    public init(key: some Collection<UInt8>) {
        mac = HMACSHA256(key: key)
    }

    /// The cookie value that pins a client to the target at `index` with `address`.
    public func value(for index: Int, address: String) -> String {
        var message = Array(String(index).utf8)
        message.append(0)
        message.append(contentsOf: address.utf8)
        return String(index) + "." + Hex.encode(mac.authenticate(message).prefix(Self.tagBytes))
    }

    /// The cookie values of all `targets`, computed once so that checking a cookie on the request path
    /// is a parse and a constant-time comparison, with no hashing.
    public func values(for targets: [BalancerTarget]) -> [String] {
        targets.enumerated().map { value(for: $0.offset, address: $0.element.address) }
    }

    /// The target index a cookie value names, or nil when it is malformed, out of range or forged.
    /// `expected` is `values(for: targets)`.
    public static func verify(_ value: String, expected: [String]) -> Int? {
        let bytes = value.utf8
        guard bytes.count <= 24, let dot = bytes.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        let digits = bytes[..<dot]
        guard (1...7).contains(digits.count), bytes.count - digits.count - 1 == tagBytes * 2 else { return nil }
        // Canonical decimal only: one value per index, no signs, no leading zeros.
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            digits.count == 1 || digits.first != UInt8(ascii: "0")
        else { return nil }
        let index = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard index < expected.count else { return nil }
        return HMACSHA256.constantTimeEqual(expected[index].utf8, bytes) ? index : nil
    }
}
