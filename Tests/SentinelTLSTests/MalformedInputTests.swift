import SentinelTLS
import Testing

/// Hostile bytes fed to a server engine: it fails with a classified error or waits for more,
/// never crashes, never buffers without bound. (Fuzz/TLSFuzz runs the same at scale.)
@Suite("TLS malformed input")
struct MalformedInputTests {
    /// A real ClientHello from a client engine.
    func clientHello(serverName: String? = "ecdsa.test") throws -> [UInt8] {
        let client = try TLSEngine(client: try clientContext(), serverName: serverName)
        var none = [UInt8]()
        try none.withUnsafeMutableBytes { out in _ = try client.receive(UnsafeRawBufferPointer(start: nil, count: 0), into: out) }
        return client.takeOutput()
    }

    /// Feeds bytes (in `chunk`-sized pieces) and returns the error, if any.
    func feed(_ bytes: [UInt8], chunk: Int = .max, set: TLSContextSet? = nil) throws -> (TLSEngine, TLSError?) {
        let engine = try TLSEngine(server: try set ?? standardSet())
        var plain = [UInt8](repeating: 0, count: 1024)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            do {
                let r = try bytes[offset..<end].withUnsafeBytes { input in
                    try plain.withUnsafeMutableBytes { try engine.receive(input, into: $0) }
                }
                offset += r.consumed
                if r.consumed == 0, r.plaintext == 0 { break }  // no progress: closed
            } catch {
                return (engine, error as? TLSError)
            }
        }
        return (engine, nil)
    }

    @Test func dripFedClientHelloWorks() throws {
        let hello = try clientHello()
        let (engine, error) = try feed(hello, chunk: 1)
        #expect(error == nil)
        #expect(engine.isHandshaking)
        #expect(engine.pendingOutputCount > 100)  // ServerHello … Finished
        #expect(engine.serverName == "ecdsa.test")
    }

    @Test func truncatedClientHelloWaitsThenReportsEOF() throws {
        let hello = try clientHello()
        for cut in [1, 4, 5, 9, hello.count / 2, hello.count - 1] {
            let (engine, error) = try feed(Array(hello[0..<cut]))
            #expect(error == nil, "cut at \(cut)")
            #expect(engine.isHandshaking && engine.pendingOutputCount == 0)
            #expect(engine.transportClosed()?.reason == .unexpectedEOF)
        }
    }

    @Test func oversizedRecordLengthIsRefused() throws {
        // A handshake record claiming 65,535 bytes (limit 16,384 + expansion).
        let (_, error) = try feed([0x16, 0x03, 0x01, 0xff, 0xff] + [UInt8](repeating: 1, count: 100))
        #expect(error?.reason == .protocolError)
    }

    @Test func plainHTTPIsRecognised() throws {
        let (engine, error) = try feed(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(error?.reason == .plainHTTP)
        if case .failed = engine.state {} else { Issue.record("engine not failed") }
        // Further input after a failure keeps throwing, never reaches OpenSSL again.
        var out = [UInt8](repeating: 0, count: 8)
        #expect(throws: TLSError.self) { try [UInt8(0)].withUnsafeBytes { i in try out.withUnsafeMutableBytes { try engine.receive(i, into: $0) } } }
    }

    @Test func garbageIsRefused() throws {
        var rng = SplitMix(seed: 12)
        for _ in 0..<50 {
            let junk = (0..<Int(rng.next() % 600 + 5)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let (_, error) = try feed(junk)
            if let error { #expect(error.reason != .internal, "\(error)") }
        }
    }

    @Test func mutatedClientHellosNeverCrash() throws {
        let hello = try clientHello()
        var rng = SplitMix(seed: 7)
        var failures = 0
        for _ in 0..<300 {
            var m = hello
            for _ in 0..<Int(rng.next() % 4 + 1) {
                m[Int(rng.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if try feed(m).1 != nil { failures += 1 }
        }
        #expect(failures > 0)
    }

    @Test func malformedServerNameExtensionIsADecodeError() throws {
        var hello = try clientHello(serverName: "ecdsa.test")
        // The server_name extension: type 0x0000, then length, list length, type 0, name length.
        let name = Array("ecdsa.test".utf8)
        let at = try #require(hello.indices.first { i in i + name.count <= hello.count && Array(hello[i..<(i + name.count)]) == name })
        // name length sits just before the name; make it exceed the list.
        hello[at - 1] = 0x7f
        let (_, error) = try feed(hello)
        #expect(error?.reason == .protocolError)
        #expect(error?.context.contains("server_name") == true)
    }

    @Test func handshakeBytesAreBounded() throws {
        var limits = TLSLimits()
        limits.maxHandshakeBytes = 1000
        let set = try standardSet { $0.limits = limits }
        // A record header announcing 16 KiB, then the body dribbling in.
        let (_, error) = try feed([0x16, 0x03, 0x01, 0x40, 0x00] + [UInt8](repeating: 1, count: 3000), chunk: 500, set: set)
        #expect(error?.reason == .handshakeTooLarge)
        // A normal handshake fits.
        #expect(try EnginePair(set, try clientContext(), serverName: "ecdsa.test").established)
        // A client certificate chain larger than the bound does not.
        let mtls = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .required(Fixtures.shared.clientTrust))]) {
            $0.limits.maxHandshakeBytes = 700
        }
        let big = try EnginePair(mtls, try clientContext(certificate: Fixtures.shared.chain("client-one")), serverName: "ecdsa.test")
        #expect(big.serverError?.reason == .handshakeTooLarge)
    }

    @Test func serverNameParser() {
        func parse(_ b: [UInt8]) -> TLSEngineTestHooks.ServerName { TLSEngineTestHooks.parseServerName(b) }
        func ext(_ name: [UInt8], type: UInt8 = 0) -> [UInt8] {
            let entry = [type, UInt8(name.count >> 8), UInt8(name.count & 255)] + name
            return [UInt8(entry.count >> 8), UInt8(entry.count & 255)] + entry
        }
        #expect(parse(ext(Array("Example.COM.".utf8))) == .name("example.com"))
        #expect(parse(ext(Array("10.0.0.1".utf8))) == .unusable)
        #expect(parse(ext(Array("a b".utf8))) == .unusable)
        #expect(parse(ext([0xc3, 0xa9])) == .unusable)
        #expect(parse(ext(Array(repeating: 0x61, count: 300))) == .unusable)
        #expect(parse(ext(Array("x.test".utf8), type: 1)) == .unusable)
        #expect(parse([]) == .malformed)
        #expect(parse([0, 9, 0, 0, 3, 0x61]) == .malformed)
        #expect(parse([0, 4, 0, 0, 9, 0x61]) == .malformed)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
