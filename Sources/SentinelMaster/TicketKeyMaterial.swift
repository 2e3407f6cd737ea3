/// The session-ticket keys of a `sentinel-stack` instance: previous, current and next, 80 bytes
/// each (16 name, 32 HMAC, 32 AES), drawn and rotated by the master and sent to every worker of
/// every generation (`TICKET-KEYS` on the control link), so a ticket one worker minted resumes
/// on any other, and after a reload.
///
/// Never on disk, in the config memfd or in logs: `description` says nothing about the bytes.
/// (Swift arrays are not wiped when freed; the workers' `TicketKeyRing` keeps its copies in
/// allocations it wipes.)
public struct TicketKeyMaterial: Sendable, Equatable, CustomStringConvertible {
    public static let keySize = 80
    /// How long a key encrypts new tickets; it is accepted for about one period before (as
    /// next) and one after (as previous).
    public static let period: Duration = .seconds(3600)

    /// previous ‖ current ‖ next.
    public private(set) var bytes: [UInt8]

    init(bytes: [UInt8]) {
        precondition(bytes.count == 3 * Self.keySize)
        self.bytes = bytes
    }

    /// Three fresh keys from the kernel's CSPRNG (`SystemRandomNumberGenerator` is getrandom(2)).
    public static func random() -> TicketKeyMaterial {
        TicketKeyMaterial(bytes: fresh(3 * keySize))
    }

    /// previous ← current ← next ← fresh.
    public mutating func rotate() {
        bytes = Array(bytes[Self.keySize...]) + Self.fresh(Self.keySize)
    }

    public var previous: ArraySlice<UInt8> { bytes[0..<Self.keySize] }
    public var current: ArraySlice<UInt8> { bytes[Self.keySize..<2 * Self.keySize] }
    public var next: ArraySlice<UInt8> { bytes[2 * Self.keySize..<3 * Self.keySize] }

    public var description: String { "TicketKeyMaterial(redacted)" }

    static func fresh(_ count: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }

    static let digits = Array("0123456789abcdef".utf8)

    var hex: String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(Self.digits[Int(b >> 4)])
            out.append(Self.digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    init?(hex: Substring) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 6 * Self.keySize else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(3 * Self.keySize)
        var i = 0
        while i < utf8.count {
            guard let hi = value(utf8[i]), let lo = value(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes: out)
    }
}
