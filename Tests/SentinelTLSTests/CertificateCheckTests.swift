import Foundation
import SentinelTLS
import Testing

/// What `sentinel test`/`validate` will report about a certificate chain and key.
@Suite("TLS certificate checks")
struct CertificateCheckTests {
    let fx = Fixtures.shared
    var now: Int64 { Int64(Date().timeIntervalSince1970) }

    func codes(_ f: [TLSCertificateFinding]) -> Set<TLSCertificateFinding.Code> { Set(f.map(\.code)) }

    @Test func goodChainHasNoFindings() {
        let chain = fx.chain("ecdsa", extra: ["int.pem"])
        #expect(chain.check(names: ["ecdsa.test"], now: now).isEmpty)
        #expect(chain.info.count == 2)
        #expect(chain.leaf.subject == "CN=ecdsa.test" && chain.leaf.issuer == "CN=Sentinel Test Intermediate")
        #expect(chain.leaf.dnsNames == ["ecdsa.test"] && chain.leaf.keyType == "EC" && chain.leaf.keyBits == 256)
        #expect(chain.leaf.serialNumber == "0a")
        #expect(fx.chain("rsa").leaf.keyType == "RSA" && fx.chain("rsa").leaf.keyBits == 2048)
    }

    @Test func wrongKey() {
        let chain = fx.chain("rsa", key: "other.key")
        #expect(!chain.keyMatchesCertificate)
        #expect(codes(chain.check(now: now)) == [.keyMismatch])
        // And a context set refuses to serve it.
        #expect(throws: TLSError.self) {
            try serverSet(hosts: [TLSServerHost(certificates: [TLSServerCertificate(chain: chain)])])
        }
    }

    @Test func chainOrder() {
        let reversed = try! TLSCertificateChain(certificatePEM: fx.bytes("int.pem") + fx.bytes("ecdsa.pem"), keyPEM: fx.bytes("ecdsa.key"))
        let f = reversed.check(now: now)
        #expect(codes(f).contains(.chainOrder))
        #expect(codes(f).contains(.keyMismatch))  // the first certificate is the intermediate
        let withRoot = fx.chain("ecdsa", extra: ["int.pem", "root.pem"])
        #expect(codes(withRoot.check(now: now)) == [.rootInChain])
        let wrongIssuer = fx.chain("rsa", extra: ["int.pem"])
        #expect(codes(wrongIssuer.check(now: now)) == [.chainOrder])
    }

    @Test func expiry() {
        let expired = fx.chain("expired")
        let f = expired.check(now: now)
        #expect(codes(f) == [.expired])
        #expect(f[0].severity == .error && f[0].message.contains("expired at 20"))
        let chain = fx.chain("rsa")
        #expect(codes(chain.check(now: chain.leaf.notAfter - 10 * 86_400)) == [.expiresSoon])
        #expect(chain.check(now: chain.leaf.notAfter - 10 * 86_400)[0].severity == .warning)
        #expect(codes(chain.check(now: chain.leaf.notAfter - 40 * 86_400)).isEmpty)
        #expect(codes(chain.check(now: chain.leaf.notBefore - 10)) == [.notYetValid])
    }

    @Test func names() {
        let chain = fx.chain("wild")
        #expect(chain.covers("a.wild.test") && chain.covers("*.wild.test"))
        #expect(!chain.covers("wild.test") && !chain.covers("a.b.wild.test"))
        let f = chain.check(names: ["a.wild.test", "other.test", "*.wild.test"], now: now)
        #expect(f.map(\.code) == [.nameNotCovered])
        #expect(f[0].message.contains("other.test"))
    }

    @Test func weakKey() {
        #expect(codes(fx.chain("weak").check(now: now)) == [.weakKey])
    }

    @Test func unreadableInputs() {
        let garbage = TLSCertificateChain.validate(certificatePEM: Array("not a certificate".utf8), keyPEM: fx.bytes("rsa.key"), source: "x.pem", now: now)
        #expect(garbage.map(\.code) == [.unreadable])
        #expect(garbage[0].description.hasPrefix("x.pem: error: "))
        let noKey = TLSCertificateChain.validate(certificatePEM: fx.bytes("rsa.pem"), keyPEM: fx.bytes("rsa.pem"), source: "x.pem", now: now)
        #expect(noKey.map(\.code) == [.unreadable])
        var broken = fx.bytes("rsa.pem")
        broken[100] = UInt8(ascii: "!")
        #expect(TLSCertificateChain.validate(certificatePEM: broken, keyPEM: fx.bytes("rsa.key"), source: "x", now: now).map(\.code) == [.unreadable])
        #expect(throws: TLSError.self) { try TLSTrustStore(caPEM: Array("nope".utf8)) }
        #expect(throws: TLSError.self) { try TLSTrustStore(caPEM: fx.bytes("root.pem"), crlPEM: Array("nope".utf8)) }
    }

    @Test func namesFromCertificatesNeedSANs() throws {
        // A host without names takes the SAN DNS names.
        let set = try serverSet(hosts: [host("san"), host("wild")])
        #expect(set.serverNames == ["san-a.test": 0, "san-b.test": 0, "*.wild.test": 1])
    }
}
