import NIOCore
import SentinelCompression
import SentinelHTTP1

/// A route's `compress` filter as one exchange carries it: the rule, the coding the client's
/// `Accept-Encoding` chose (read while the request head was still in the buffer), and whether
/// the request was HEAD.
struct ResponseCompression {
    let rule: CompressionDecision.Rule
    let accepted: ContentCoding?
    let isHead: Bool

    /// The coding `head`'s fields accept of `rule.codings` (nil: none, or no `Accept-Encoding`).
    static func accepted(_ head: RequestHead, _ bytes: UnsafeRawBufferPointer, rule: CompressionDecision.Rule) -> ContentCoding? {
        var accept = AcceptEncoding()
        var seen = false
        for i in head.fields.indices where head.fields[i].nameRange.count == 15 {
            guard HeaderBytes.equals(bytes, head.fields[i].nameRange, "accept-encoding") else { continue }
            seen = true
            accept.parse(UnsafeRawBufferPointer(rebasing: bytes[head.fields[i].valueRange]))
        }
        return seen ? accept.choose(from: rule.codings) : nil
    }
}

/// The response facts `CompressionDecision` reads, from the upstream's head.
enum CompressionFacts {
    static func read(_ head: ResponseHead, _ p: UnsafeRawBufferPointer) -> CompressionDecision.Response {
        var r = CompressionDecision.Response(status: Int(head.status), mediaType: nil)
        switch head.framing {
        case .contentLength(let n): r.contentLength = n
        case .none: r.contentLength = 0
        case .chunked, .untilClose, .tunnel: break
        }
        for i in head.fields.indices where head.fields[i].name == .other {
            let name = head.fields[i].nameRange
            let value = head.fields[i].valueRange
            switch name.count {
            case 12 where HeaderBytes.equals(p, name, "content-type"):
                var end = value.lowerBound
                while end < value.upperBound, p[end] != UInt8(ascii: ";") { end += 1 }
                while end > value.lowerBound, p[end - 1] == UInt8(ascii: " ") || p[end - 1] == UInt8(ascii: "\t") { end -= 1 }
                r.mediaType = String(decoding: HeaderBytes.lowercased(p, value.lowerBound..<end), as: UTF8.self)
            case 16 where HeaderBytes.equals(p, name, "content-encoding"):
                if !(value.count == 8 && HeaderBytes.equals(p, value, "identity")) && !value.isEmpty { r.encoded = true }
            case 13 where HeaderBytes.equals(p, name, "content-range"):
                r.hasContentRange = true
            case 13 where HeaderBytes.equals(p, name, "cache-control"):
                if contains(p, value, "no-transform") { r.noTransform = true }
            default:
                break
            }
        }
        return r
    }

    /// Whether the bytes in `r` contain `needle` (ASCII, case-insensitive).
    static func contains(_ p: UnsafeRawBufferPointer, _ r: Range<Int>, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard r.count >= n else { return false }
        for start in r.lowerBound...(r.upperBound - n) where HeaderBytes.equals(p, start..<(start + n), needle) { return true }
        return false
    }
}

/// One response body being compressed: the zlib stream and how its output is framed for the
/// client (chunks for HTTP/1.1; raw bytes ended by the close for HTTP/1.0, which cannot read
/// chunks and for which the length is unknown until the end).
final class BodyCompressor {
    let deflater: Deflater
    let coding: ContentCoding
    var chunked = true
    private let allocator = ByteBufferAllocator()

    init?(coding: ContentCoding, level: Int, expectedLength: UInt64?) {
        guard let d = Deflater(coding: coding, level: level, expectedLength: expectedLength) else { return nil }
        deflater = d
        self.coding = coding
    }

    /// Room before the data for the largest chunk-size line ("ffffffff\r\n").
    private static let headRoom = 10

    /// Largest output buffer per zlib call: a long body goes out as several chunks, never as
    /// one buffer the size of the input.
    static let pieceLimit = 32 << 10

    /// Compresses `input` with `flush` and hands the client's bytes to `send`, in pieces of at
    /// most `pieceLimit` (nothing when zlib holds everything). With `.finish` and chunked
    /// framing, the last chunk follows the data.
    func compress(_ input: UnsafeRawBufferPointer, flush: Deflater.Flush, send: (ByteBuffer) -> Void) {
        var offset = 0
        var held: ByteBuffer?
        while true {
            let room = min(Self.pieceLimit, max(Deflater.outputBound(input.count - offset), 8 << 10))
            var out = allocator.buffer(capacity: Self.headRoom + room + 7)
            out.moveWriterIndex(forwardBy: Self.headRoom)
            var step = (consumed: 0, produced: 0, pending: false)
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { dst in
                step = deflater.deflate(
                    UnsafeRawBufferPointer(rebasing: input[offset...]), flush: flush, into: UnsafeMutableRawBufferPointer(rebasing: dst[0..<room]))
                return step.produced
            }
            offset += step.consumed
            if step.produced > 0 {
                if chunked {
                    // The chunk-size line right before the data, then the data's CRLF.
                    var size = step.produced
                    var at = Self.headRoom - 2
                    out.setInteger(UInt8(ascii: "\r"), at: at)
                    out.setInteger(UInt8(ascii: "\n"), at: at + 1)
                    repeat {
                        at -= 1
                        out.setInteger(Self.hex[size & 0xf], at: at)
                        size >>= 4
                    } while size > 0
                    out.moveReaderIndex(to: at)
                    out.writeStaticString("\r\n")
                } else {
                    out.moveReaderIndex(to: Self.headRoom)
                }
                if let previous = held { send(previous) }
                held = out
            }
            if offset >= input.count, !step.pending { break }
        }
        if flush == .finish, chunked {
            // Room for it was kept in every piece.
            if held == nil { held = allocator.buffer(capacity: 5) }
            held!.writeStaticString("0\r\n\r\n")
        }
        if let held { send(held) }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}

extension ProxyExchange {
    /// Decides whether the response with `head` is compressed (the route has a `compress` filter);
    /// when it is, starts its compressor and returns the coding for the head.
    func startCompression(_ head: ResponseHead) -> ContentCoding? {
        guard let plan = compression else { return nil }
        let facts = responseBuffer.withUnsafeReadableBytes { CompressionFacts.read(head, $0) }
        switch CompressionDecision.decide(rule: plan.rule, accepted: plan.accepted, isHead: plan.isHead, response: facts) {
        case .skip(let reason):
            shared.metrics.compression.skipped(reason.rawValue)
            return nil
        case .compress(let coding):
            guard let c = BodyCompressor(coding: coding, level: plan.rule.level, expectedLength: facts.contentLength) else {
                shared.metrics.compression.skipped("no_memory")
                return nil
            }
            compressor = c
            return coding
        }
    }

    /// `flushResponseBuffer` for a compressed body: the upstream's body bytes (by its framing)
    /// go through the compressor; what it has is flushed at the end of each pass, so a client
    /// never waits on bytes Sentinel holds (a streamed response stays streamed).
    func flushCompressedResponseBuffer() -> Bool {
        guard let compressor else { return true }
        switch responseFraming {
        case .contentLength:
            let n = Int(min(responseRemaining, UInt64(responseBuffer.readableBytes)))
            if n > 0 {
                responseRemaining -= UInt64(n)
                // The body's last bytes end the stream in the same call.
                let flush: Deflater.Flush = responseRemaining == 0 ? .finish : .sync
                // A slice of its own: writing to the client may call back into the exchange.
                let slice = responseBuffer.readSlice(length: n)!
                slice.withUnsafeReadableBytes { compressor.compress($0, flush: flush, send: sendCompressed) }
                if flush == .finish { completeCompressedBody() }
                return true
            }
            if responseRemaining == 0 {
                endCompressedBody()
                return true
            }
        case .chunked:
            var failed = false
            loop: while responseBuffer.readableBytes > 0, !responseComplete, !failed {
                let step = responseBuffer.withUnsafeReadableBytes { responseChunked!.decode($0) }
                switch step {
                case .data(let r):
                    responseBuffer.moveReaderIndex(forwardBy: r.lowerBound)
                    let slice = responseBuffer.readSlice(length: r.count)!
                    slice.withUnsafeReadableBytes { compressor.compress($0, flush: .none, send: sendCompressed) }
                case .needMore(let consumed):
                    responseBuffer.moveReaderIndex(forwardBy: consumed)
                case .done(let consumed):
                    responseBuffer.moveReaderIndex(forwardBy: consumed)
                    endCompressedBody()
                    break loop
                case .error:
                    failed = true
                }
            }
            if failed {
                upstreamReusable = false
                fail(upstreamError(.malformedResponseBody))
                return false
            }
            if responseComplete { return true }
        case .untilClose:
            if responseBuffer.readableBytes > 0 {
                let slice = responseBuffer.readSlice(length: responseBuffer.readableBytes)!
                slice.withUnsafeReadableBytes { compressor.compress($0, flush: .sync, send: sendCompressed) }
            }
            return true
        case .none, .tunnel:
            endCompressedBody()
            return true
        }
        // The end of this pass: what zlib holds goes out now.
        compressor.compress(UnsafeRawBufferPointer(start: nil, count: 0), flush: .sync, send: sendCompressed)
        return true
    }

    /// The upstream's body ended: the compressed stream's end (and the last chunk) goes out.
    func endCompressedBody() {
        guard let compressor else { return }
        compressor.compress(UnsafeRawBufferPointer(start: nil, count: 0), flush: .finish, send: sendCompressed)
        completeCompressedBody()
    }

    /// The compressed stream has ended: counted, and the response is complete.
    private func completeCompressedBody() {
        guard let compressor else { return }
        shared.metrics.compression.compressed(
            compressor.coding, bytesIn: compressor.deflater.bytesIn, bytesOut: compressor.deflater.bytesOut)
        self.compressor = nil
        lifecycle.responseCompleted()
    }

    private func sendCompressed(_ out: ByteBuffer) {
        responseBodyBytes += out.readableBytes
        downstream.writeBody(out)
    }
}
