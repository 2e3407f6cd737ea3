/// The session-ticket keys of a `sentinel-stack` instance: previous, current and next, 80 bytes
/// each (16 name, 32 HMAC, 32 AES), drawn and rotated by the master and sent to every worker of
/// every generation (`TICKET-KEYS` on the control link), so a ticket one worker minted resumes
/// on any other, and after a reload.
///
/// Never on disk, in the config memfd or in logs: `description` says nothing about the bytes.
/// The bytes live in a `SecretBytes` allocation (never a Swift array): drawn straight into it,
/// wiped when a rotation replaces it and when the last copy is released. The control line that
/// carries them is built in a `SecretBytes` too and wiped once written (`ControlLink.send(ticketKeys:)`).
public struct TicketKeyMaterial: Sendable, Equatable, CustomStringConvertible {
    public static let keySize = 80
    /// How long a key encrypts new tickets; it is accepted for about one period before (as
    /// next) and one after (as previous).
    public static let period: Duration = .seconds(3600)

    /// previous ‖ current ‖ next.
    private(set) var storage: SecretBytes

    private init(storage: SecretBytes) {
        self.storage = storage
    }

    /// Three fresh keys from the kernel's CSPRNG (getrandom(2)).
    public static func random() -> TicketKeyMaterial {
        let s = SecretBytes(count: 3 * keySize)
        s.fillRandom(0..<3 * keySize)
        return TicketKeyMaterial(storage: s)
    }

    /// previous ← current ← next ← fresh. The old allocation is wiped at once when this value
    /// held the only reference (the master's), else when its last holder releases it.
    public mutating func rotate() {
        _ = rotateReturningOld()
    }

    /// `rotate()`, returning the replaced allocation (for tests: wiped when this value held the
    /// only reference to it).
    mutating func rotateReturningOld() -> SecretBytes {
        let next = SecretBytes(count: 3 * Self.keySize)
        storage.withBytes { old in
            next.bytes.baseAddress!.copyMemory(from: old.baseAddress! + Self.keySize, byteCount: 2 * Self.keySize)
        }
        next.fillRandom(2 * Self.keySize..<3 * Self.keySize)
        let unique = isKnownUniquelyReferenced(&storage)
        let old = storage
        storage = next
        if unique { old.wipe() }
        return old
    }

    /// Key `index` (0 previous, 1 current, 2 next) as bytes, valid inside `body` only.
    public func withKey<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition((0..<3).contains(index))
        return try storage.withBytes { try body(UnsafeRawBufferPointer(rebasing: $0[index * Self.keySize..<(index + 1) * Self.keySize])) }
    }

    public var description: String { "TicketKeyMaterial(redacted)" }

    public static func == (a: TicketKeyMaterial, b: TicketKeyMaterial) -> Bool {
        a.storage.withBytes { x in b.storage.withBytes { y in x.elementsEqual(y) } }
    }

    static let digits: StaticString = "0123456789abcdef"

    /// `TICKET-KEYS <480 hex digits>\n`, built in its own wiped-on-release allocation.
    func controlLine() -> SecretBytes {
        let prefix: StaticString = "TICKET-KEYS "
        let line = SecretBytes(count: prefix.utf8CodeUnitCount + 6 * Self.keySize + 1)
        let out = line.bytes
        var i = 0
        for k in 0..<prefix.utf8CodeUnitCount {
            out[i] = prefix.utf8Start[k]
            i += 1
        }
        storage.withBytes { bytes in
            for b in bytes {
                out[i] = Self.digits.utf8Start[Int(b >> 4)]
                out[i + 1] = Self.digits.utf8Start[Int(b & 15)]
                i += 2
            }
        }
        out[i] = UInt8(ascii: "\n")
        return line
    }

    /// The hex digits as a String (tests only: a String's storage is never wiped).
    var hex: String {
        let line = controlLine()
        return line.withBytes { String(decoding: $0[12..<($0.count - 1)], as: UTF8.self) }
    }

    /// Parses 480 lower-case hex digits straight into a new allocation.
    init?(hex: Substring) {
        guard hex.utf8.count == 6 * Self.keySize else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        let s = SecretBytes(count: 3 * Self.keySize)
        var high: UInt8?
        var i = 0
        for c in hex.utf8 {
            guard let v = value(c) else { return nil }  // `s` is wiped as it is released
            if let h = high {
                s.bytes[i] = h << 4 | v
                i += 1
                high = nil
            } else {
                high = v
            }
        }
        self.init(storage: s)
    }
}
