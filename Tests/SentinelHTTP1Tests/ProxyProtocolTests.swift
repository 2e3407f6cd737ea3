import SentinelHTTP1
import Testing

/// The PROXY protocol parser: both versions, every byte boundary, and hostile inputs.
@Suite struct ProxyProtocolTests {
    static func v2(command: UInt8 = 0x21, family: UInt8 = 0x11, addresses: [UInt8], tlvs: [UInt8] = [], length: Int? = nil) -> [UInt8] {
        let body = addresses + tlvs
        let n = length ?? body.count
        return [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, command, family, UInt8(n >> 8), UInt8(n & 0xFF)] + body
    }

    static let v4Addresses: [UInt8] = [203, 0, 113, 7, 10, 0, 0, 1, 0xC8, 0x35, 0x01, 0xBB]

    @Test func version1TCP4AndTCP6NameTheClient() {
        let line = Array("PROXY TCP4 203.0.113.7 10.0.0.1 51253 443\r\n".utf8)
        #expect(ProxyProtocol.parse(line + Array("GET / HTTP/1.1\r\n".utf8))
            == .header(.init(version: 1, source: .client(text: "203.0.113.7", bytes: [203, 0, 113, 7], port: 51253)), length: line.count))
        let six = Array("PROXY TCP6 2001:DB8:0:0::1 2001:db8::2 1 65535\r\n".utf8)
        guard case .header(let h, let n) = ProxyProtocol.parse(six), case .client(let text, let bytes, let port) = h.source else {
            Issue.record("TCP6 not parsed"); return
        }
        #expect(text == "2001:db8::1")
        #expect(bytes.count == 16 && port == 1 && n == six.count)
        #expect(ProxyProtocol.parse(Array("PROXY UNKNOWN\r\n".utf8)) == .header(.init(version: 1, source: .local), length: 15))
        #expect(ProxyProtocol.parse(Array("PROXY UNKNOWN ff::1 ff::2 1 2\r\n".utf8)) == .header(.init(version: 1, source: .local), length: 31))
    }

    @Test func version2ProxyLocalAndTLVs() {
        let h = Self.v2(addresses: Self.v4Addresses, tlvs: [0x01, 0x00, 0x02, 0x68, 0x32])
        #expect(ProxyProtocol.parse(h + [0x47])
            == .header(.init(version: 2, source: .client(text: "203.0.113.7", bytes: [203, 0, 113, 7], port: 0xC835)), length: h.count))
        var six = [UInt8](repeating: 0, count: 36)
        six[0] = 0x20; six[1] = 0x01; six[2] = 0x0D; six[3] = 0xB8; six[15] = 9; six[33] = 80
        guard case .header(let h6, _) = ProxyProtocol.parse(Self.v2(family: 0x21, addresses: six)),
              case .client(let text, _, let port) = h6.source else { Issue.record("v2 IPv6 not parsed"); return }
        #expect(text == "2001:db8::9" && port == 80)
        // LOCAL (a balancer's health check): no client; the peer stands.
        let local = Self.v2(command: 0x20, family: 0x00, addresses: [])
        #expect(ProxyProtocol.parse(local) == .header(.init(version: 2, source: .local), length: 16))
        #expect(ProxyProtocol.parse(Self.v2(family: 0x31, addresses: [UInt8](repeating: 0, count: 216))) == .header(.init(version: 2, source: .local), length: 232))
    }

    /// Every strict prefix of a valid header is `incomplete`, never a header or an error.
    @Test func everyPrefixOfAValidHeaderAsksForMore() {
        for header in [Array("PROXY TCP4 203.0.113.7 10.0.0.1 51253 443\r\n".utf8), Self.v2(addresses: Self.v4Addresses)] {
            for n in 0..<header.count { #expect(ProxyProtocol.parse(Array(header[..<n])) == .incomplete, "prefix \(n)") }
        }
    }

    @Test func hostileInputsAreRefusedEarlyAndBounded() {
        func refused(_ bytes: [UInt8], _ why: String = "") -> Bool {
            if case .invalid = ProxyProtocol.parse(bytes, maxLength: 512) { return true }
            return false
        }
        // Plain HTTP on a PROXY listener: refused at the first byte.
        #expect(refused(Array("G".utf8)))
        #expect(refused(Array("GET / HTTP/1.1\r\n\r\n".utf8)))
        #expect(refused(Array("PROXZ".utf8)))
        // Version 1: no CRLF within 107 bytes, bad protocol, bad addresses, ports, spacing, bytes.
        #expect(refused(Array(("PROXY TCP4 " + String(repeating: "1", count: 100)).utf8)))
        #expect(refused(Array("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4 ::1 5.6.7.8 1 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP6 1.2.3.4 ::1 1 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.4\u{0} 5.6.7.8 1 2\r\n".utf8)))
        #expect(refused(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8).map { $0 == 0x31 ? 0xB1 : $0 }))
        // Version 2: wrong version, command, family; a length past the bound; addresses too short.
        var wrongVersion = Self.v2(addresses: Self.v4Addresses)
        wrongVersion[12] = 0x11
        #expect(refused(wrongVersion))
        #expect(refused(Self.v2(command: 0x22, addresses: Self.v4Addresses)))
        #expect(refused(Self.v2(family: 0x12, addresses: Self.v4Addresses)))
        #expect(refused(Self.v2(family: 0x41, addresses: Self.v4Addresses)))
        #expect(refused(Array(Self.v2(addresses: [], length: 0xFFFF).prefix(16))))
        #expect(refused(Self.v2(addresses: [1, 2, 3, 4])))
        #expect(refused(Self.v2(family: 0x21, addresses: Self.v4Addresses)))
        var badSignature = Self.v2(addresses: Self.v4Addresses)
        badSignature[7] = 0x52
        #expect(refused(badSignature))
    }

    /// Random bytes (seeded) never crash the parser, and whatever it accepts fits in what it was given.
    @Test func randomInputsNeverCrashOrOverrun() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let seeds = [Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8), Self.v2(addresses: Self.v4Addresses), Array("PROXY TCP6 ::1 ::2 3 4\r\n".utf8)]
        for i in 0..<20_000 {
            var bytes = seeds[i % seeds.count]
            for _ in 0..<(1 + Int(next() % 4)) {
                let at = Int(next()) % bytes.count
                switch next() % 3 {
                case 0: bytes[at] = next()
                case 1: bytes.remove(at: at)
                default: bytes.insert(next(), at: at)
                }
                if bytes.isEmpty { bytes = [next()] }
            }
            if case .header(_, let length) = ProxyProtocol.parse(bytes, maxLength: 256) { #expect(length <= bytes.count) }
        }
    }
}
