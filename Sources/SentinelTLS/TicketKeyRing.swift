internal import COpenSSL
internal import CSentinelTLS
internal import Glibc
import Synchronization

/// One session-ticket key: 80 bytes, 16 of name, 32 of HMAC-SHA256 key, 32 of AES-256 key.
/// The secret lives in its own allocation, never in a Swift array, and is wiped with
/// OPENSSL_cleanse when the last reference goes (when a rotation drops it from every ring).
public final class TicketKey: @unchecked Sendable, CustomStringConvertible {
    public static let size = 80
    static let nameSize = 16
    /// Immutable after init; freed in deinit.
    private let storage: UnsafeMutableRawBufferPointer

    /// A key from 80 bytes (the master's wire format). The caller wipes its own copy.
    public init(bytes: UnsafeRawBufferPointer) throws(TLSError) {
        guard bytes.count == Self.size else {
            throw TLSError(.configuration, "a session-ticket key has \(Self.size) bytes, got \(bytes.count)")
        }
        storage = .allocate(byteCount: Self.size, alignment: 16)
        storage.copyMemory(from: bytes)
    }

    /// A key drawn from OpenSSL's CSPRNG.
    public init() throws(TLSError) {
        storage = .allocate(byteCount: Self.size, alignment: 16)
        guard RAND_bytes(storage.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(Self.size)) == 1 else {
            storage.deallocate()
            throw TLSError.drain(.internal, "draw a session-ticket key")
        }
    }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, Self.size)
        storage.deallocate()
    }

    /// The 16-byte name sent in tickets (not secret).
    public var name: [UInt8] { Array(storage[0..<Self.nameSize]) }

    /// The name in hex; the secret is never printed.
    public var description: String { "TicketKey(\(hex(name)))" }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { body(UnsafeRawBufferPointer(storage)) }

    func nameEquals(_ other: UnsafePointer<UInt8>) -> Bool {
        memcmp(storage.baseAddress!, other, Self.nameSize) == 0
    }
}

/// The session-ticket keys a process encrypts and decrypts tickets with: `current` encrypts,
/// any of `previous`, `current`, `next` decrypts (a ticket under a non-current key is renewed).
/// Keys are memory only. The master draws them, rotates them and sends them to every worker of
/// every generation, which installs them here; single-process `sentinel` rotates its own.
/// With no current key, tickets are not issued (full handshakes only).
///
/// Thread-safe: the control channel installs keys on its thread while handshakes read them.
public final class TicketKeyRing: Sendable {
    struct Keys {
        var previous: TicketKey?
        var current: TicketKey?
        var next: TicketKey?
    }

    private let keys: Mutex<Keys>

    /// An empty ring: no tickets until keys are installed.
    public init() {
        keys = Mutex(Keys())
    }

    /// A ring with three fresh random keys (single-process use and tests).
    public static func random() throws(TLSError) -> TicketKeyRing {
        let ring = TicketKeyRing()
        ring.install(previous: try TicketKey(), current: try TicketKey(), next: try TicketKey())
        return ring
    }

    /// Replaces all three keys at once. Keys that drop out are wiped when no ring holds them.
    public func install(previous: TicketKey?, current: TicketKey?, next: TicketKey?) {
        keys.withLock { $0 = Keys(previous: previous, current: current, next: next) }
    }

    /// previous ← current, current ← next, next ← a fresh key; the old previous is dropped.
    public func rotate() throws(TLSError) {
        let a = try TicketKey()
        let b = try TicketKey()
        keys.withLock { k in
            k.previous = k.current
            if let n = k.next {
                k.current = n
                k.next = a
            } else {
                k.current = a
                k.next = b
            }
        }
    }

    /// Names of the installed keys (hex), for logs and tests.
    public var keyNames: (previous: String?, current: String?, next: String?) {
        keys.withLock { k in
            (k.previous.map { hex($0.name) }, k.current.map { hex($0.name) }, k.next.map { hex($0.name) })
        }
    }

    /// The ticket-key callback's work (OpenSSL calls it with `enc` 1 to issue, 0 to open a ticket).
    /// Returns what OpenSSL expects: 1 keys set, 2 keys set and renew the ticket, 0 no key
    /// (issue nothing / full handshake), -1 error.
    func ticketKeyCallback(name: UnsafeMutablePointer<UInt8>, iv: UnsafeMutablePointer<UInt8>,
                           cipher: OpaquePointer, mac: OpaquePointer, encrypt: Bool) -> Int32 {
        keys.withLock { k -> Int32 in
            let key: TicketKey
            var renew = false
            if encrypt {
                guard let current = k.current else { return 0 }
                key = current
                key.withBytes { b in _ = memcpy(name, b.baseAddress!, TicketKey.nameSize) }
                guard RAND_bytes(iv, 16) == 1 else { return -1 }
            } else {
                if let c = k.current, c.nameEquals(name) {
                    key = c
                } else if let p = k.previous, p.nameEquals(name) {
                    key = p
                    renew = true
                } else if let n = k.next, n.nameEquals(name) {
                    key = n
                    renew = true
                } else {
                    return 0
                }
            }
            return key.withBytes { b -> Int32 in
                let base = b.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let hmacKey = base + 16
                let aesKey = base + 48
                guard sentinel_tls_ticket_hmac_init(mac, hmacKey, 32) == 1 else { return -1 }
                let ok = encrypt
                    ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nil, aesKey, iv)
                    : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nil, aesKey, iv)
                guard ok == 1 else { return -1 }
                return renew ? 2 : 1
            }
        }
    }
}
