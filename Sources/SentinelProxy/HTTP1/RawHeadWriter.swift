/// Appends bytes into memory reserved once for a whole head.
///
/// `ByteBuffer.write…` checks capacity and uniqueness on every call; a head is some twenty small
/// writes, so the head writers reserve an upper bound once and append through this instead.
/// Every append is still bounds-checked: an append that does not fit is dropped and marks the
/// writer `overflowed`, and the caller writes the head again into a larger reservation. A wrong
/// bound costs a second pass; it never writes past the reservation and never stops the process.
struct RawHeadWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var count = 0
    /// Some append did not fit: the output is incomplete and must be discarded.
    private(set) var overflowed = false

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress!
        capacity = buffer.count
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n <= capacity &- count else {
            overflowed = true
            return
        }
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
        // Native strings (all the proxy builds) expose their bytes directly; others are copied.
        if s.utf8.withContiguousStorageIfAvailable({ append(UnsafeRawBufferPointer($0)) }) == nil {
            var copy = s
            copy.withUTF8 { append(UnsafeRawBufferPointer($0)) }
        }
    }

    @inline(__always)
    mutating func append(byte: UInt8) {
        guard count < capacity else {
            overflowed = true
            return
        }
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
