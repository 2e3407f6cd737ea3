/// Byte classes and small scanning primitives of RFC 9110/9112, on raw buffers.
///
/// Character classes are 128-bit masks in integer literals, so a test costs two compares and a
/// shift, with no table to initialise lazily and no global state.
enum HTTP1Bytes {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B

    @inline(__always)
    private static func inMask(_ b: UInt8, _ low: UInt64, _ high: UInt64) -> Bool {
        if b < 64 { return (low >> UInt64(b)) & 1 != 0 }
        if b < 128 { return (high >> UInt64(b &- 64)) & 1 != 0 }
        return false
    }

    /// RFC 9110 §5.6.2 `tchar`: the only bytes allowed in methods, field names and codings.
    @inline(__always)
    static func isTchar(_ b: UInt8) -> Bool { inMask(b, 0x03ff_6cfa_0000_0000, 0x57ff_ffff_c7ff_fffe) }

    /// Host name bytes Sentinel accepts: ALPHA / DIGIT / "-" / "." / "_" / "~".
    @inline(__always)
    static func isHostChar(_ b: UInt8) -> Bool { inMask(b, 0x03ff_6000_0000_0000, 0x47ff_fffe_87ff_fffe) }

    /// Bytes inside an IPv6 literal: HEXDIG / ":" / ".".
    @inline(__always)
    static func isIPv6Char(_ b: UInt8) -> Bool { inMask(b, 0x07ff_4000_0000_0000, 0x0000_007e_0000_007e) }

    /// Request-target bytes: visible ASCII except "#" (fragments are never sent, RFC 9112 §3.2).
    @inline(__always)
    static func isTargetChar(_ b: UInt8) -> Bool { b > 0x20 && b < 0x7F && b != 0x23 }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    @inline(__always)
    static func isOWS(_ b: UInt8) -> Bool { b == sp || b == htab }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        if b &- 0x30 < 10 { return b &- 0x30 }
        let l = b | 0x20
        if l &- 0x61 < 6 { return l &- 0x61 &+ 10 }
        return nil
    }

    /// Index of the first byte in `from..<to` that is a C0 control (including CR, LF, HTAB) or DEL,
    /// or `to`. Eight bytes per step: the common case of a clean line costs a few instructions.
    @inline(__always)
    static func firstControl(_ p: UnsafeRawBufferPointer, from: Int, to: Int) -> Int {
        var i = from
        while i &+ 8 <= to {
            let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let below = (w &- 0x2020_2020_2020_2020) & ~w & 0x8080_8080_8080_8080
            let x = w ^ 0x7F7F_7F7F_7F7F_7F7F
            let del = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            let hit = below | del
            if hit != 0 { return i &+ hit.trailingZeroBitCount >> 3 }
            i &+= 8
        }
        while i < to {
            let b = p[i]
            if b < 0x20 || b == 0x7F { return i }
            i &+= 1
        }
        return to
    }

    /// ASCII case-insensitive comparison of `range` with a lowercase literal made of letters,
    /// digits and "-". Callers pass token bytes, for which `| 0x20` only folds letters.
    @inline(__always)
    static func equalsLower(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, _ lower: StaticString) -> Bool {
        guard range.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        var i = 0
        while i < range.count {
            if p[range.lowerBound &+ i] | 0x20 != l[i] { return false }
            i &+= 1
        }
        return true
    }

    /// ASCII case-insensitive comparison of two ranges of the same buffer.
    static func equalsIgnoringCase(_ p: UnsafeRawBufferPointer, _ a: Range<Int>, _ b: Range<Int>) -> Bool {
        guard a.count == b.count else { return false }
        var i = 0
        while i < a.count {
            var x = p[a.lowerBound &+ i]
            var y = p[b.lowerBound &+ i]
            if x &- 0x41 < 26 { x |= 0x20 }
            if y &- 0x41 < 26 { y |= 0x20 }
            if x != y { return false }
            i &+= 1
        }
        return true
    }

    /// `range` without leading and trailing SP/HTAB (RFC 9110 §5.6.3 OWS).
    @inline(__always)
    static func trimOWS(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lo = range.lowerBound
        var hi = range.upperBound
        while lo < hi && isOWS(p[lo]) { lo &+= 1 }
        while hi > lo && isOWS(p[hi &- 1]) { hi &-= 1 }
        return lo..<hi
    }

    /// Index of `byte` in `range`, or `range.upperBound`.
    @inline(__always)
    static func index(of byte: UInt8, in p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int {
        var i = range.lowerBound
        while i < range.upperBound && p[i] != byte { i &+= 1 }
        return i
    }

    /// Calls `body` with each comma-separated element of `range`, OWS-trimmed, empty ones included.
    /// Stops early and returns false when `body` does.
    @inline(__always)
    static func forEachListElement(
        _ p: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        _ body: (Range<Int>) -> Bool
    ) -> Bool {
        var start = range.lowerBound
        while true {
            let comma = index(of: HTTP1Bytes.comma, in: p, start..<range.upperBound)
            if !body(trimOWS(p, start..<comma)) { return false }
            if comma == range.upperBound { return true }
            start = comma &+ 1
        }
    }

    /// Parses `1*DIGIT` into a UInt64; nil on empty input, any other byte, or overflow.
    static func decimal(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt64? {
        if range.isEmpty { return nil }
        var value: UInt64 = 0
        for i in range {
            let d = p[i] &- 0x30
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            value = s
        }
        return value
    }
}
