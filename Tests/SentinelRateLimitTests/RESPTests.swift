import Testing
@testable import SentinelRateLimit

@Suite struct RESPTests {
    @Test func commandsAreArraysOfBulkStrings() {
        #expect(String(decoding: RESP.command("GET", "k"), as: UTF8.self) == "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    }

    @Test func repliesDecodeAcrossArbitrarySplits() throws {
        let wire = Array("+OK\r\n-ERR bad\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*3\r\n:1\r\n:2\r\n*1\r\n$0\r\n\r\n*-1\r\n".utf8)
        let expected: [RESPValue] = [.simple("OK"), .error("ERR bad"), .integer(42), .bulk(Array("abc".utf8)), .bulk(nil),
                                     .array([.integer(1), .integer(2), .array([.bulk([])])]), .array(nil)]
        for split in 0...wire.count {
            var d = RESP.Decoder()
            var got: [RESPValue] = []
            d.append(wire[..<split])
            while let v = try d.next() { got.append(v) }
            d.append(wire[split...])
            while let v = try d.next() { got.append(v) }
            #expect(got == expected, "split at \(split)")
            #expect(d.buffered == 0)
        }
    }

    @Test func hostileRepliesAreProtocolErrors() {
        for bad in ["$99999999\r\n", "*99999\r\n", "?x\r\n", ":12a\r\n", "$3\r\nabcXY", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"] {
            var d = RESP.Decoder()
            d.append(Array(bad.utf8))
            #expect(throws: RESP.ProtocolError.self, "\(bad)") { _ = try d.next() }
        }
        var long = RESP.Decoder()
        long.append([UInt8](repeating: UInt8(ascii: "+"), count: 5000))
        #expect(throws: RESP.ProtocolError.self) { _ = try long.next() }
    }

    @Test func sha1OfTheReferenceMessages() {
        #expect(SHA1.hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    @Test func theScriptsRepliesBecomeDecisions() {
        #expect(RedisBucket.decision(.array([.integer(1), .integer(7), .integer(2_000)]))
                == .init(outcome: .admitted, newTAT: 0, remaining: 7, retryAfter: 0, fullAfter: 2_000_000))
        #expect(RedisBucket.decision(.array([.integer(0), .integer(10_000), .integer(5)]))?.outcome == .limited)
        #expect(RedisBucket.decision(.array([.integer(0), .integer(10_000), .integer(5)]))?.retryAfter == 10_000_000)
        #expect(RedisBucket.decision(.array([.integer(2), .integer(3), .integer(5)]))?.outcome == .delayed(nanoseconds: 3_000))
        #expect(RedisBucket.decision(.error("NOSCRIPT")) == nil)
        #expect(RedisBucket.decision(.array([.integer(9), .integer(0), .integer(0)])) == nil)
    }

    @Test func keysAreThePrefixAndTheOriginalsKeyText() {
        func k(_ key: RateLimitRule.Key, header: String? = nil) -> String {
            String(decoding: RedisBucket.key(prefix: "p:", rule: key, clientIP: "10.0.0.1", path: "/a", route: "r", header: header), as: UTF8.self)
        }
        #expect(k(.clientIP) == "p:10.0.0.1")
        #expect(k(.path) == "p:/a")
        #expect(k(.route) == "p:r")
        #expect(k(.clientIPAndPath) == "p:10.0.0.1:/a")
        #expect(k(.header("X-Key")) == "p:unknown")
        #expect(k(.header("X-Key"), header: "abc") == "p:abc")
    }
}
