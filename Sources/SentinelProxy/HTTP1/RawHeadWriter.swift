/// Appends bytes into memory reserved once for a whole head.
///
/// `ByteBuffer.write…` checks capacity and uniqueness on every call; a head is some twenty small
/// writes, so the head writers reserve an upper bound once and append through this instead.
/// Every append is still bounds-checked (a precondition, not an assertion): a wrong bound stops
/// the process rather than writing past the reservation.
struct RawHeadWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var count = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress!
        capacity = buffer.count
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        precondition(n <= capacity &- count, "head writer bound exceeded")
        if n > 0 { (base + count).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        count &+= n
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        append(UnsafeRawBufferPointer(rebasing: bytes[range]))
    }

    @inline(__always)
    mutating func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    mutating func append(byte: UInt8) {
        precondition(count < capacity, "head writer bound exceeded")
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count &+= 1
    }

    /// A non-negative integer in decimal (status codes, lengths).
    mutating func append(decimal value: Int) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = UInt(max(0, value))
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[19 - n] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
                n += 1
            } while v > 0
            append(UnsafeRawBufferPointer(rebasing: d[(20 - n)...]))
        }
    }
}
