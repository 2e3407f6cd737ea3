#if canImport(Glibc)
import Glibc
#endif

/// Bytes that must not outlive their use: a fixed-size allocation of its own (never a Swift
/// array, whose copies and freed storage nobody wipes), zeroed with `explicit_bzero` (which
/// the compiler may not drop as a dead store) by `wipe()` and again when released.
///
/// Holds the master's session-ticket keys and the control line that carries them.
/// `@unchecked Sendable`: written only while its owner builds it, read-only once shared.
public final class SecretBytes: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: max(1, count), alignment: 16)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        self.count = count
    }

    public let count: Int

    /// Zeroes the bytes now (the allocation stays until released).
    public func wipe() {
        explicit_bzero(bytes.baseAddress!, bytes.count)
    }

    /// True when every byte is zero (after `wipe`).
    public var isWiped: Bool { bytes.allSatisfy { $0 == 0 } }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
    }

    deinit {
        wipe()
        bytes.deallocate()
    }

    /// Fills `range` from the kernel's CSPRNG (`SystemRandomNumberGenerator` is getrandom(2)),
    /// written straight into this allocation (no intermediate array).
    func fillRandom(_ range: Range<Int>) {
        var rng = SystemRandomNumberGenerator()
        var offset = range.lowerBound
        while offset < range.upperBound {
            var word = rng.next()
            let n = min(8, range.upperBound - offset)
            withUnsafeBytes(of: &word) { bytes.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
            word = 0
            offset += n
        }
    }
}
