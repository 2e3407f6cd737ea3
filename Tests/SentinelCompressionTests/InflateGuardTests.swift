import SentinelCompression
import Testing

@Suite struct InflateGuardTests {
    func compressed(_ body: [UInt8], _ coding: ContentCoding = .gzip) -> [UInt8] {
        Deflater(coding: coding, level: 9)!.deflate(body, flush: .finish)
    }

    @Test(arguments: [ContentCoding.gzip, .deflate])
    func ordinaryBodiesInflate(coding: ContentCoding) {
        let body = sampleText(50_000)
        #expect(InflateGuard().inflate(compressed(body, coding), coding: coding) == .inflated(body))
        #expect(InflateGuard().inflate(compressed([], coding), coding: coding) == .inflated([]))
    }

    @Test func aZipBombIsStoppedByTheRatioCapEarly() {
        // 50 MiB of zeros: about 50 KiB compressed, a ratio near 1000.
        let bomb = Deflater(coding: .gzip, level: 9)!.deflate([UInt8](repeating: 0, count: 50 << 20), flush: .finish)
        #expect(bomb.count < 100_000)
        guard case .ratioExceeded(let produced, let consumed) = InflateGuard().inflate(bomb, coding: .gzip) else {
            Issue.record("bomb not refused for its ratio")
            return
        }
        // Refused as soon as the ratio was seen, not after inflating it all.
        #expect(produced < 1 << 20)
        #expect(Double(produced) > 100 * Double(consumed))
    }

    @Test func theSizeCapHoldsForAnHonestRatio() {
        let body = sampleText(300_000)
        let g = InflateGuard(maxRatio: 1000, maxBytes: 100_000)
        guard case .tooLarge(let produced) = g.inflate(compressed(body), coding: .gzip) else {
            Issue.record("not refused for its size")
            return
        }
        #expect(produced == 100_001)
        #expect(InflateGuard(maxRatio: 1000, maxBytes: 300_000).inflate(compressed(body), coding: .gzip) == .inflated(body))
    }

    @Test func smallHighlyCompressibleBodiesPassUnderTheFloor() {
        let zeros = [UInt8](repeating: 0, count: 60_000)
        #expect(InflateGuard().inflate(compressed(zeros), coding: .gzip) == .inflated(zeros))
    }

    @Test func malformedAndTruncatedStreams() {
        let good = compressed(sampleText(10_000))
        #expect(InflateGuard().inflate(Array(good.prefix(good.count / 2)), coding: .gzip) == .malformed)
        #expect(InflateGuard().inflate(Array("not gzip at all".utf8), coding: .gzip) == .malformed)
        #expect(InflateGuard().inflate(good + [1, 2, 3], coding: .gzip) == .malformed)
        #expect(InflateGuard().inflate(good, coding: .deflate) == .malformed)
    }

    @Test func rawDeflateIsAcceptedAsDeflate() {
        // Some clients send a raw deflate stream (no zlib wrapper) as "deflate": strip the 2-byte
        // header and 4-byte trailer of a zlib stream.
        let body = sampleText(5000)
        let zlib = compressed(body, .deflate)
        #expect(InflateGuard().inflate(Array(zlib[2..<(zlib.count - 4)]), coding: .deflate) == .inflated(body))
    }

    @Test func codingNames() {
        #expect(InflateGuard.coding(named: "GZIP") == .gzip)
        #expect(InflateGuard.coding(named: " x-gzip ") == .gzip)
        #expect(InflateGuard.coding(named: "deflate") == .deflate)
        #expect(InflateGuard.coding(named: "br") == nil)
        #expect(InflateGuard.coding(named: "gzip, gzip") == nil)
    }
}
