/// SipHash-2-4 (64-bit output) with a secret 128-bit key, fed in pieces.
///
/// Rate-limit keys come from clients (an IP, a path, a header value), so their hashes must not
/// be predictable: with a public hash a client could pick values that collide with another
/// client's slot and spend its tokens. Swift's `Hasher` is keyed per process, but workers
/// sharing a table must agree on every hash, so the key lives in the shared region's header.
public struct SipHasher: Sendable {
    @usableFromInline var v0: UInt64
    @usableFromInline var v1: UInt64
    @usableFromInline var v2: UInt64
    @usableFromInline var v3: UInt64
    @usableFromInline var tail: UInt64 = 0
    @usableFromInline var tailCount: Int = 0
    @usableFromInline var length: Int = 0

    @inlinable
    public init(k0: UInt64, k1: UInt64) {
        v0 = k0 ^ 0x736f6d6570736575
        v1 = k1 ^ 0x646f72616e646f6d
        v2 = k0 ^ 0x6c7967656e657261
        v3 = k1 ^ 0x7465646279746573
    }

    @inlinable @inline(__always)
    static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }

    @inlinable @inline(__always)
    mutating func round() {
        v0 = v0 &+ v1; v1 = Self.rotl(v1, 13); v1 ^= v0; v0 = Self.rotl(v0, 32)
        v2 = v2 &+ v3; v3 = Self.rotl(v3, 16); v3 ^= v2
        v0 = v0 &+ v3; v3 = Self.rotl(v3, 21); v3 ^= v0
        v2 = v2 &+ v1; v1 = Self.rotl(v1, 17); v1 ^= v2; v2 = Self.rotl(v2, 32)
    }

    @inlinable @inline(__always)
    mutating func compress(_ m: UInt64) {
        v3 ^= m
        round(); round()
        v0 ^= m
    }

    @inlinable
    public mutating func combine(_ byte: UInt8) {
        tail |= UInt64(byte) << UInt64(tailCount * 8)
        tailCount += 1
        length += 1
        if tailCount == 8 {
            compress(tail)
            tail = 0
            tailCount = 0
        }
    }

    @inlinable
    public mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { combine(b) }
    }

    @inlinable
    public mutating func combine<S: Sequence>(contentsOf bytes: S) where S.Element == UInt8 {
        for b in bytes { combine(b) }
    }

    @inlinable
    public mutating func combine(_ value: UInt64) {
        for i in 0..<8 { combine(UInt8(truncatingIfNeeded: value >> UInt64(i * 8))) }
    }

    @inlinable
    public consuming func finalize() -> UInt64 {
        let b = (UInt64(truncatingIfNeeded: length) << 56) | tail
        compress(b)
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}
