import CZlib

/// A streaming zlib compressor for one response body: bytes in, compressed bytes out, with
/// memory bounded by zlib's state (chosen from the body's length when known) and the caller's
/// output buffer. Not thread-safe; one per response.
public final class Deflater {
    public enum Flush: Sendable {
        /// Keep what zlib buffers (best ratio).
        case none
        /// Emit everything so far on a byte boundary (the client can decode it now).
        case sync
        /// End the stream (trailer written).
        case finish

        var raw: Int32 {
            switch self {
            case .none: Z_NO_FLUSH
            case .sync: Z_SYNC_FLUSH
            case .finish: Z_FINISH
            }
        }
    }

    private let stream: UnsafeMutablePointer<z_stream>
    public private(set) var finished = false
    /// Bytes given and bytes produced so far.
    public private(set) var bytesIn: UInt64 = 0
    public private(set) var bytesOut: UInt64 = 0

    /// - Parameters: `expectedLength`: the body's length when the head states it: a short body
    ///   gets a smaller window and hash (zlib's memory is (1 << (windowBits + 2)) + (1 << (memLevel + 9))
    ///   bytes; 256 KiB at the full window).
    /// - Returns: nil when zlib cannot allocate its state.
    public init?(coding: ContentCoding, level: Int, expectedLength: UInt64? = nil) {
        var windowBits: Int32 = 15
        var memLevel: Int32 = 8
        if let n = expectedLength, n > 0 {
            var bits: Int32 = 9
            while bits < 15, (UInt64(1) << UInt64(bits)) < n { bits += 1 }
            memLevel = max(1, 8 - (15 - bits))
            windowBits = bits
        }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // gzip: 16 + windowBits asks zlib for the gzip wrapper; deflate: the zlib wrapper.
        let bits = coding == .gzip ? windowBits + 16 : windowBits
        if sentinel_deflate_init(stream, Int32(min(max(level, 1), 9)), bits, memLevel) != Z_OK {
            stream.deinitialize(count: 1)
            stream.deallocate()
            return nil
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// A safe output size for `inputCount` more bytes with a flush: zlib's bound for stored
    /// blocks plus what a flush and the trailer add.
    public static func outputBound(_ inputCount: Int) -> Int {
        inputCount + inputCount / 1000 + (inputCount >> 12) + 64
    }

    /// Compresses `input` with `flush`, writing into `output`. Returns the bytes of `input`
    /// consumed and the bytes written; call again with the rest (or, when the output filled,
    /// a fresh output) until `input` is consumed and, for a flush, until `pending` is false.
    public func deflate(
        _ input: UnsafeRawBufferPointer, flush: Flush, into output: UnsafeMutableRawBufferPointer
    ) -> (consumed: Int, produced: Int, pending: Bool) {
        precondition(!finished, "deflate after finish")
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(input.count)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(output.count)
        let rc = CZlib.deflate(stream, flush.raw)
        let consumed = input.count - Int(stream.pointee.avail_in)
        let produced = output.count - Int(stream.pointee.avail_out)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        bytesIn += UInt64(consumed)
        bytesOut += UInt64(produced)
        if rc == Z_STREAM_END { finished = true }
        // With output space left, zlib has written all it had for this flush.
        let pending = flush != .none && stream.pointee.avail_out == 0 && !finished
        return (consumed, produced, pending || (flush == .finish && !finished))
    }

    /// Compresses all of `input` (tests and callers without their own buffers): the output bytes.
    public func deflate(_ input: [UInt8], flush: Flush) -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        input.withUnsafeBytes { inp in
            repeat {
                var chunk = [UInt8](repeating: 0, count: Self.outputBound(inp.count - offset))
                let r = chunk.withUnsafeMutableBytes { deflate(UnsafeRawBufferPointer(rebasing: inp[offset...]), flush: flush, into: $0) }
                offset += r.consumed
                out += chunk[0..<r.produced]
                if offset == inp.count, !r.pending { break }
            } while true
        }
        return out
    }
}
