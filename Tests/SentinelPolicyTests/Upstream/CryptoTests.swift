import Testing

@testable import SentinelPolicy

private func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8).makeIterator()
    func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
    while let hi = chars.next(), let lo = chars.next() { out.append(nibble(hi) << 4 | nibble(lo)) }
    return out
}

private func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct SHA256Vectors {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
    ])
    func fipsVectors(message: String, digest: String) {
        #expect(Hex.encode(SHA256.hash(ascii(message))) == digest)
    }

    @Test func millionA() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(Hex.encode(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingEqualsOneShotAtEverySplit() {
        let message = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let expected = SHA256.hash(message)
        for split in [0, 1, 55, 56, 63, 64, 65, 119, 128, 200] {
            var hasher = SHA256()
            hasher.update(message[..<split])
            hasher.update(message[split...])
            #expect(hasher.finalize() == expected, "split at \(split)")
        }
    }
}

/// RFC 4231 §4.2–4.8.
@Suite struct HMACSHA256Vectors {
    @Test func case1() {
        let mac = HMACSHA256(key: [UInt8](repeating: 0x0b, count: 20)).authenticate(ascii("Hi There"))
        #expect(Hex.encode(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test func case2ShortKey() {
        let mac = HMACSHA256(key: ascii("Jefe")).authenticate(ascii("what do ya want for nothing?"))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func case3() {
        let mac = HMACSHA256(key: [UInt8](repeating: 0xaa, count: 20)).authenticate([UInt8](repeating: 0xdd, count: 50))
        #expect(Hex.encode(mac) == "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")
    }

    @Test func case4() {
        let key = bytes("0102030405060708090a0b0c0d0e0f10111213141516171819")
        let mac = HMACSHA256(key: key).authenticate([UInt8](repeating: 0xcd, count: 50))
        #expect(Hex.encode(mac) == "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")
    }

    @Test func case5Truncated() {
        let mac = HMACSHA256(key: [UInt8](repeating: 0x0c, count: 20)).authenticate(ascii("Test With Truncation"))
        #expect(Hex.encode(mac.prefix(16)) == "a3b6167473100ee06e0c796c2955552b")
    }

    @Test func case6KeyLongerThanBlock() {
        let mac = HMACSHA256(key: [UInt8](repeating: 0xaa, count: 131))
            .authenticate(ascii("Test Using Larger Than Block-Size Key - Hash Key First"))
        #expect(Hex.encode(mac) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func case7KeyAndDataLongerThanBlock() {
        let data =
            "This is a test using a larger than block-size key and a larger than block-size data. "
            + "The key needs to be hashed before being used by the HMAC algorithm."
        let mac = HMACSHA256(key: [UInt8](repeating: 0xaa, count: 131)).authenticate(ascii(data))
        #expect(Hex.encode(mac) == "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
    }

    @Test func constantTimeEqual() {
        #expect(HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2]))
    }
}

@Suite struct PolicyMathTests {
    @Test func expMatchesKnownValues() {
        let cases: [(Double, Double)] = [
            (0, 1), (-1, 0.367_879_441_171_442_33), (-10, 4.539_992_976_248_485_4e-05), (1, 2.718_281_828_459_045),
            (-0.5, 0.606_530_659_712_633_4), (-700, 9.859_676_543_759_770_4e-305),
        ]
        for (x, expected) in cases {
            let got = PolicyMath.exp(x)
            #expect(abs(got - expected) <= expected * 1e-14, "exp(\(x)) = \(got), want \(expected)")
        }
        #expect(PolicyMath.exp(-800) == 0)
    }

    @Test func stableHashIsDeterministicAndSeeded() {
        let a = StableHash.hash(ascii("10.0.0.1:8080"), seed: 0)
        #expect(a == StableHash.hash("10.0.0.1:8080", seed: 0))
        #expect(a != StableHash.hash("10.0.0.1:8080", seed: 1))
        #expect(StableHash.hash([0x61], seed: 0) != StableHash.hash([0x61, 0], seed: 0))
    }

    @Test func durationConversions() {
        #expect(Duration.milliseconds(1500).policySeconds == 1.5)
        #expect(Duration.milliseconds(3).policyNanoseconds == 3_000_000)
        #expect(Duration.policySeconds(0.25) == .milliseconds(250))
    }
}
