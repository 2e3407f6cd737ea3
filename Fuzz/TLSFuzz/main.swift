// libFuzzer target for SentinelTLS: arbitrary bytes as a client's first flight (ClientHello and
// records) to a server engine, whole or drip-fed in chunks the input chooses; with the top bit
// of the first byte set, the bytes arrive after a completed handshake instead (records under
// the established keys: mostly decryption failures, plus the record layer's length checks).
// Built by Fuzz/fuzz-tls.sh together with Sources/SentinelTLS/*.swift as one module, linked
// against the system OpenSSL and the CSentinelTLS shim (compiled with ASan).
//
// Invariants (a violation traps, which libFuzzer reports as a crash):
// - no input crashes the engine or makes it read past its buffers (ASan);
// - a handshaking engine never reads more than `maxHandshakeBytes`;
// - after a thrown error the engine stays failed and throws again;
// - output and plaintext stay within their bounds.

import Glibc

func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { fatalError("TLS fuzz fixtures missing: \(path) (run Fuzz/fuzz-tls.sh)") }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

let fixtureDir = getenv("SENTINEL_TLS_FUZZ_DIR").map { String(cString: $0) } ?? "tls-fuzz"
let handshakeLimit = 8 * 1024

/// A fixed ring (constant keys) so seeds carrying tickets decrypt across runs.
let ring: TicketKeyRing = {
    let r = TicketKeyRing()
    func key(_ b: UInt8) -> TicketKey { try! [UInt8](repeating: b, count: 80).withUnsafeBytes { try TicketKey(bytes: $0) } }
    r.install(previous: key(1), current: key(2), next: key(3))
    return r
}()

let contexts: TLSContextSet = {
    func cert(_ name: String) -> TLSServerCertificate {
        let chain = try! TLSCertificateChain(certificatePEM: readFile("\(fixtureDir)/\(name).pem"), keyPEM: readFile("\(fixtureDir)/\(name).key"), source: name)
        return TLSServerCertificate(chain: chain)
    }
    let trust = try! TLSTrustStore(caPEM: readFile("\(fixtureDir)/ec.pem"))
    var c = TLSServerConfiguration(listener: "fuzz", hosts: [
        TLSServerHost(names: ["ec.test"], certificates: [cert("ec"), cert("rsa")]),
        TLSServerHost(names: ["*.mtls.test"], certificates: [cert("ec")], clientAuthentication: .optional(trust)),
    ])
    c.limits.maxHandshakeBytes = handshakeLimit
    return try! TLSContextSet(c, ticketKeys: ring)
}()

let client: TLSClientContext = {
    var c = TLSClientConfiguration(trust: .insecureNoVerification)
    c.alpn = ["http/1.1"]
    return try! TLSClientContext(c)
}()

var plaintext = [UInt8](repeating: 0, count: 4096)

/// Feeds `bytes` in chunks of `chunk`; returns whether the engine failed.
func feed(_ engine: TLSEngine, _ bytes: UnsafeRawBufferPointer, chunk: Int) {
    var offset = 0
    var handshakeRead = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        let wasHandshaking = engine.isHandshaking
        do {
            let r = try plaintext.withUnsafeMutableBytes { try engine.receive(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), into: $0) }
            precondition(r.consumed >= 0 && r.consumed <= end - offset, "consumed out of range")
            precondition(r.plaintext >= 0 && r.plaintext <= plaintext.count, "plaintext out of range")
            if wasHandshaking, engine.isHandshaking {
                handshakeRead += r.consumed
                precondition(handshakeRead <= handshakeLimit, "handshake read beyond its bound")
            }
            offset += r.consumed
            _ = engine.takeOutput()
            if r.consumed == 0, r.plaintext == 0 { break }
        } catch {
            _ = engine.takeOutput()
            guard case .failed = engine.state else { fatalError("threw without failing: \(error)") }
            let again = plaintext.withUnsafeMutableBytes { out -> Bool in
                do { _ = try engine.receive(UnsafeRawBufferPointer(rebasing: bytes[0..<0]), into: out); return false } catch { return true }
            }
            precondition(again, "a failed engine accepted input")
            return
        }
    }
    _ = engine.transportClosed()
}

/// Starts the client and shuttles bytes between the two engines until neither has more to send
/// (at most 10 rounds): the end of the handshake.
func shuttleHandshake(_ c: TLSEngine, _ s: TLSEngine) {
    var empty = [UInt8]()
    _ = try! empty.withUnsafeMutableBytes { try c.receive(UnsafeRawBufferPointer(start: nil, count: 0), into: $0) }
    for _ in 0..<10 {
        let a = c.takeOutput()
        if !a.isEmpty { _ = try! a.withUnsafeBytes { i in try plaintext.withUnsafeMutableBytes { try s.receive(i, into: $0) } } }
        let b = s.takeOutput()
        if !b.isEmpty { _ = try! b.withUnsafeBytes { i in try plaintext.withUnsafeMutableBytes { try c.receive(i, into: $0) } } }
        if a.isEmpty, b.isEmpty { break }
    }
}

/// A server engine past its handshake with a client.
func establishedServer() -> TLSEngine {
    let c = try! TLSEngine(client: client, serverName: "ec.test")
    let s = try! TLSEngine(server: contexts)
    shuttleHandshake(c, s)
    precondition(!s.isHandshaking, "fuzz harness handshake failed")
    return s
}

@_cdecl("LLVMFuzzerTestOneInput")
public func sentinelTLSFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 1 else { return 0 }
    let all = UnsafeRawBufferPointer(start: data, count: size)
    let mode = all[0]
    let bytes = UnsafeRawBufferPointer(rebasing: all[1...])
    // Low 4 bits: 0 = whole input at once, k = chunks of 2^(k-1) bytes.
    let k = Int(mode & 0x0f)
    let chunk = k == 0 ? Int.max : 1 << (k - 1)
    let engine = mode & 0x80 != 0 ? establishedServer() : try! TLSEngine(server: contexts)
    feed(engine, bytes, chunk: chunk)
    return 0
}

/// `tls-fuzz --write-seeds DIR`: real ClientHellos (TLS 1.2/1.3, SNI names, ALPN, with a ticket
/// from this harness's ring) as seed inputs, mode byte 0.
@_cdecl("LLVMFuzzerInitialize")
public func sentinelTLSFuzzInit(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let args = (0..<Int(argc.pointee)).map { String(cString: argv.pointee![$0]!) }
    guard let i = args.firstIndex(of: "--write-seeds"), i + 1 < args.count else { return 0 }
    let dir = args[i + 1]
    var n = 0
    func write(_ bytes: [UInt8]) {
        n += 1
        guard let f = fopen("\(dir)/hello-\(n)", "wb") else { fatalError("cannot write seeds to \(dir)") }
        _ = ([0] + bytes).withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }
    func hello(_ ctx: TLSClientContext, _ name: String?, session: TLSSession? = nil) -> [UInt8] {
        let c = try! TLSEngine(client: ctx, serverName: name, session: session)
        var empty = [UInt8]()
        _ = try! empty.withUnsafeMutableBytes { try c.receive(UnsafeRawBufferPointer(start: nil, count: 0), into: $0) }
        return c.takeOutput()
    }
    for max in [TLSVersion.tls1_2, .tls1_3] {
        var cfg = TLSClientConfiguration(trust: .insecureNoVerification)
        cfg.maxVersion = max
        cfg.alpn = ["h2", "http/1.1"]
        cfg.requestOCSPStaple = true
        let ctx = try! TLSClientContext(cfg)
        for name in ["ec.test", "a.mtls.test", nil] { write(hello(ctx, name)) }
        // One with a ticket: a full handshake first, then the resuming ClientHello.
        let c = try! TLSEngine(client: ctx, serverName: "ec.test")
        let s = try! TLSEngine(server: contexts)
        shuttleHandshake(c, s)
        if let session = c.session { write(hello(ctx, "ec.test", session: session)) }
    }
    print("wrote \(n) seeds to \(dir)")
    exit(0)
}
