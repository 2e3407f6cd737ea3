import CZlib
import SentinelCompression
import Testing

/// zlib's own inflate (window bits 15 + 32: gzip or zlib wrapper detected), independent of
/// `InflateGuard`.
func zlibInflate(_ input: [UInt8]) -> [UInt8]? {
    let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    s.initialize(to: z_stream())
    defer { s.deallocate() }
    guard inflateInit2_(s, 47, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
    defer { inflateEnd(s) }
    var out: [UInt8] = []
    var ok = false
    var inp = input
    inp.withUnsafeMutableBytes { p in
        s.pointee.next_in = p.baseAddress?.assumingMemoryBound(to: Bytef.self)
        s.pointee.avail_in = UInt32(p.count)
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let rc = buf.withUnsafeMutableBytes { b -> Int32 in
                s.pointee.next_out = b.baseAddress?.assumingMemoryBound(to: Bytef.self)
                s.pointee.avail_out = UInt32(b.count)
                return inflate(s, Z_NO_FLUSH)
            }
            out += buf[0..<(4096 - Int(s.pointee.avail_out))]
            if rc == Z_STREAM_END { ok = s.pointee.avail_in == 0; return }
            if rc != Z_OK { return }
        }
    }
    return ok ? out : nil
}

func sampleText(_ n: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    let words = ["sentinel", "proxy", "gzip", "deflate", "body", "chunk", "stream", "{\"k\":", "12345", "\n"]
    var out: [UInt8] = []
    while out.count < n { out += Array(words[Int.random(in: 0..<words.count, using: &g)].utf8) + [32] }
    return Array(out[0..<n])
}

@Suite struct DeflaterTests {
    @Test(arguments: [ContentCoding.gzip, .deflate])
    func streamedPiecesRoundTrip(coding: ContentCoding) throws {
        for size in [0, 1, 1023, 1024, 16383, 16384, 16385, 65536, 200_000] {
            let body = sampleText(size)
            let d = try #require(Deflater(coding: coding, level: 6, expectedLength: size % 2 == 0 ? UInt64(size) : nil))
            var out: [UInt8] = []
            var i = 0
            // Pieces of odd sizes with a sync flush after each, as the proxy does per read.
            while i < body.count {
                let n = min(7919, body.count - i)
                out += d.deflate(Array(body[i..<(i + n)]), flush: .sync)
                // What was sent so far decodes to what went in (the client can render it now).
                i += n
            }
            out += d.deflate([], flush: .finish)
            #expect(d.finished)
            #expect(d.bytesIn == UInt64(size))
            #expect(d.bytesOut == UInt64(out.count))
            #expect(zlibInflate(out) == body, "size \(size)")
            if coding == .gzip { #expect(out.prefix(2) == [0x1f, 0x8b]) } else { #expect(out.first.map { $0 & 0x0f } == 8) }
            if size >= 16384 { #expect(out.count < size / 2) }
        }
    }

    @Test func smallOutputBuffersStillDrainEverything() throws {
        let body = sampleText(100_000)
        let d = try #require(Deflater(coding: .gzip, level: 9))
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 64)
        try body.withUnsafeBytes { inp in
            var offset = 0
            var flush = Deflater.Flush.none
            while true {
                let r = buf.withUnsafeMutableBytes { d.deflate(UnsafeRawBufferPointer(rebasing: inp[offset...]), flush: flush, into: $0) }
                offset += r.consumed
                out += buf[0..<r.produced]
                if offset == inp.count, flush == .none { flush = .finish; continue }
                if flush == .finish, !r.pending { break }
                try #require(r.consumed > 0 || r.produced > 0)
            }
        }
        #expect(zlibInflate(out) == body)
    }

    @Test func levelsDiffer() throws {
        let body = sampleText(65536)
        let fast = try #require(Deflater(coding: .gzip, level: 1)).deflate(body, flush: .finish)
        let best = try #require(Deflater(coding: .gzip, level: 9)).deflate(body, flush: .finish)
        #expect(zlibInflate(fast) == body)
        #expect(zlibInflate(best) == body)
        #expect(best.count < fast.count)
    }
}
