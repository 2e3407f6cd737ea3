import CZlib

/// Decompression with zip-bomb caps, for whatever inspects a compressed request body (an agent's
/// body events, a filter): bytes in, the inflated bytes or why not. A value: the caps are its
/// whole state; each call runs its own zlib stream to the end and frees it.
///
/// Two caps, checked as output is produced (never after inflating everything): the inflated
/// size (`maxBytes`), and the ratio of output to input consumed so far (`maxRatio`, checked
/// once the output passes `ratioFloor`, so a tiny well-compressed body is not refused for its
/// ratio alone). A refusal is a 413 for the client (`ProxyError.decompressedBodyTooLarge`).
public struct InflateGuard: Sendable, Equatable {
    public var maxRatio: Double
    public var maxBytes: Int
    /// Output below this size is never refused for its ratio.
    public var ratioFloor: Int

    /// The original's defaults: ratio 100, 100 MiB.
    public init(maxRatio: Double = 100, maxBytes: Int = 100 << 20, ratioFloor: Int = 64 << 10) {
        self.maxRatio = maxRatio
        self.maxBytes = maxBytes
        self.ratioFloor = ratioFloor
    }

    public enum Verdict: Sendable, Equatable {
        case inflated([UInt8])
        /// More than `maxBytes` would come out (`produced`: what had come out when it stopped).
        case tooLarge(produced: Int)
        /// The output outgrew `maxRatio` times the input read so far.
        case ratioExceeded(produced: Int, consumed: Int)
        /// Not a valid stream of the coding (or truncated).
        case malformed

        /// A metric label (bounded).
        public var result: String {
            switch self {
            case .inflated: "ok"
            case .tooLarge: "size_exceeded"
            case .ratioExceeded: "ratio_exceeded"
            case .malformed: "malformed"
            }
        }
    }

    /// The coding a `Content-Encoding` value names, when Sentinel can inflate it (`gzip`,
    /// `x-gzip`, `deflate`); nil for anything else (`br`, `zstd`, a list of several codings).
    public static func coding(named value: String) -> ContentCoding? {
        switch value.lowercased().trimmingSpaces {
        case "gzip", "x-gzip": .gzip
        case "deflate": .deflate
        default: nil
        }
    }

    /// Inflates `input` (one whole body) per `coding`.
    public func inflate(_ input: [UInt8], coding: ContentCoding) -> Verdict {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        // gzip: 16 + 15; deflate: 32 + 15 detects the zlib wrapper (and raw-in-gzip is refused);
        // a raw deflate stream (no wrapper) some clients send as "deflate" is tried below.
        let bits: Int32 = coding == .gzip ? 15 + 16 : 15
        guard sentinel_inflate_init(stream, bits) == Z_OK else { return .malformed }
        defer { inflateEnd(stream) }
        let verdict = run(stream, input)
        if verdict == .malformed, coding == .deflate {
            inflateEnd(stream)
            stream.pointee = z_stream()
            guard sentinel_inflate_init(stream, -15) == Z_OK else { return .malformed }
            return run(stream, input)
        }
        return verdict
    }

    private func run(_ stream: UnsafeMutablePointer<z_stream>, _ input: [UInt8]) -> Verdict {
        let step = 16 << 10
        var out: [UInt8] = []
        var produced = 0
        return input.withUnsafeBytes { inp -> Verdict in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inp.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(inp.count)
            while true {
                // Never more room than the size cap allows (plus one byte, to see it exceeded).
                let room = min(step, maxBytes - produced + 1)
                out.reserveCapacity(produced + room)
                var rc: Int32 = Z_OK
                var wrote = 0
                withUnsafeTemporaryAllocation(byteCount: room, alignment: 1) { buf in
                    stream.pointee.next_out = buf.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = UInt32(room)
                    rc = CZlib.inflate(stream, Z_NO_FLUSH)
                    wrote = room - Int(stream.pointee.avail_out)
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<wrote]))
                }
                produced += wrote
                let consumed = inp.count - Int(stream.pointee.avail_in)
                if produced > maxBytes { return .tooLarge(produced: produced) }
                if produced > ratioFloor, Double(produced) > maxRatio * Double(max(consumed, 1)) {
                    return .ratioExceeded(produced: produced, consumed: consumed)
                }
                switch rc {
                case Z_STREAM_END:
                    // Bytes after the end of the stream are not part of the body's meaning.
                    return stream.pointee.avail_in == 0 ? .inflated(out) : .malformed
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: the input ended before the stream did.
                    if wrote == 0 { return .malformed }
                    continue
                default:
                    return .malformed
                }
            }
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
