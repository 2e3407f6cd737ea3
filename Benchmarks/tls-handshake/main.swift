// Cost of the SentinelTLS engine: server-side CPU time and heap allocations per handshake
// (full ECDSA P-256 and RSA-2048, TLS 1.3 and 1.2, and a TLS 1.3 ticket resumption) and
// record throughput, with a client engine in the same process. Only the time spent in the
// server engine's calls is counted for handshakes.
//
//   swift run -c release sentinel-tls-bench [handshakes]
//
// Certificates are made with the `openssl` command line into a temporary directory.
import CAllocationCounter
import Glibc
import SentinelTLS

let handshakes = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1000 : 1000

func sh(_ command: String) {
    guard system(command) == 0 else { fatalError("failed: \(command)") }
}

func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { fatalError("cannot read \(path)") }
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

var template = Array("/tmp/sentinel-tls-bench-XXXXXX".utf8CString)
let dir = String(cString: mkdtemp(&template)!)
defer { sh("rm -rf \(dir)") }
sh("""
cd \(dir) && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem \
  -subj /CN=bench.test -addext subjectAltName=DNS:bench.test -days 30 2>/dev/null && \
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem \
  -subj /CN=bench.test -addext subjectAltName=DNS:bench.test -days 30 2>/dev/null
""")

func contexts(_ key: String, max: TLSVersion? = nil, ring: TicketKeyRing?) -> TLSContextSet {
    let chain = try! TLSCertificateChain(certificatePEM: readFile("\(dir)/\(key).pem"), keyPEM: readFile("\(dir)/\(key).key"))
    var c = TLSServerConfiguration(listener: "bench", hosts: [TLSServerHost(certificates: [TLSServerCertificate(chain: chain)])])
    c.maxVersion = max
    return try! TLSContextSet(c, ticketKeys: ring)
}

let client = { () -> TLSClientContext in
    var c = TLSClientConfiguration(trust: .insecureNoVerification)
    c.alpn = ["http/1.1"]
    return try! TLSClientContext(c)
}()

nonisolated(unsafe) var scratch = [UInt8](repeating: 0, count: 65_536)

func fmt(_ x: Double, _ digits: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let v = (x * scale).rounded() / scale
    return "\(v)"
}

struct Cost {
    var serverNanoseconds: UInt64 = 0
    var serverAllocations: UInt64 = 0
}

/// One handshake; returns the client session. Adds the server engine's time and allocations.
@discardableResult
func handshake(_ set: TLSContextSet, session: TLSSession?, cost: inout Cost) -> TLSSession? {
    let c = try! TLSEngine(client: client, serverName: "bench.test", session: session)
    let clock = ContinuousClock()
    var a0 = sentinel_allocation_count()
    var t0 = clock.now
    let s = try! TLSEngine(server: set)
    cost.serverNanoseconds += nanos(clock.now - t0)
    cost.serverAllocations += sentinel_allocation_count() - a0
    _ = try! scratch.withUnsafeMutableBytes { try c.receive(UnsafeRawBufferPointer(start: nil, count: 0), into: $0) }
    for _ in 0..<10 {
        let toServer = c.takeOutput()
        if !toServer.isEmpty {
            a0 = sentinel_allocation_count()
            t0 = clock.now
            _ = try! toServer.withUnsafeBytes { i in try scratch.withUnsafeMutableBytes { try s.receive(i, into: $0) } }
            cost.serverNanoseconds += nanos(clock.now - t0)
            cost.serverAllocations += sentinel_allocation_count() - a0
        }
        let toClient = s.takeOutput()
        if !toClient.isEmpty {
            _ = try! toClient.withUnsafeBytes { i in try scratch.withUnsafeMutableBytes { try c.receive(i, into: $0) } }
        }
        if toServer.isEmpty, toClient.isEmpty { break }
    }
    precondition(!s.isHandshaking && s.facts != nil, "handshake failed")
    if session != nil, !s.facts!.resumed { fatalError("not resumed: refused by binding \(s.ticketRefusedByBinding), session resumable \(session!.isResumable), \(s.facts!)") }
    return c.session
}

func nanos(_ d: Duration) -> UInt64 {
    UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
}

func report(_ name: String, _ cost: Cost, _ n: Int) {
    let us = Double(cost.serverNanoseconds) / Double(n) / 1000
    let allocs = Double(cost.serverAllocations) / Double(n)
    print("\(name): \(fmt(us)) µs server CPU, \(fmt(allocs)) allocations per handshake (\(n) handshakes)")
}

let ring = try! TicketKeyRing.random()
for (name, key, max) in [("TLS 1.3 full, ECDSA P-256", "ec", TLSVersion?.none), ("TLS 1.2 full, ECDSA P-256", "ec", .tls1_2),
                         ("TLS 1.3 full, RSA 2048", "rsa", nil)] {
    let set = contexts(key, max: max, ring: ring)
    var warm = Cost()
    for _ in 0..<20 { handshake(set, session: nil, cost: &warm) }
    var cost = Cost()
    for _ in 0..<handshakes { handshake(set, session: nil, cost: &cost) }
    report(name, cost, handshakes)
}
do {
    let set = contexts("ec", ring: ring)
    var warm = Cost()
    var session = handshake(set, session: nil, cost: &warm)!
    var cost = Cost()
    // Each resumption uses the newest ticket, as a client should (TLS 1.3 tickets are single-use by intent).
    for i in 0..<handshakes {
        if !session.isResumable { fatalError("iteration \(i): session not resumable") }
        session = handshake(set, session: session, cost: &cost) ?? session
    }
    report("TLS 1.3 resumed (ticket)", cost, handshakes)
}

// Records: the server encrypts 64 KiB writes, the client decrypts them.
do {
    let set = contexts("ec", ring: nil)
    let c = try! TLSEngine(client: client, serverName: "bench.test")
    let s = try! TLSEngine(server: set)
    _ = try! scratch.withUnsafeMutableBytes { try c.receive(UnsafeRawBufferPointer(start: nil, count: 0), into: $0) }
    for _ in 0..<10 {
        let a = c.takeOutput()
        if !a.isEmpty { _ = try! a.withUnsafeBytes { i in try scratch.withUnsafeMutableBytes { try s.receive(i, into: $0) } } }
        let b = s.takeOutput()
        if !b.isEmpty { _ = try! b.withUnsafeBytes { i in try scratch.withUnsafeMutableBytes { try c.receive(i, into: $0) } } }
        if a.isEmpty, b.isEmpty { break }
    }
    let payload = [UInt8](repeating: 0x5a, count: 65_536)
    let rounds = 2000
    let clock = ContinuousClock()
    var sendNanos: UInt64 = 0
    let a0 = sentinel_allocation_count()
    var plain = 0
    let start = clock.now
    for _ in 0..<rounds {
        let t0 = clock.now
        _ = try! payload.withUnsafeBytes { try s.send($0) }
        sendNanos += nanos(clock.now - t0)
        try! s.withPendingOutput { out in
            var off = 0
            while off < out.count {
                let r = try scratch.withUnsafeMutableBytes { try c.receive(UnsafeRawBufferPointer(rebasing: out[off...]), into: $0) }
                off += r.consumed
                plain += r.plaintext
            }
        }
        s.consumeOutput(s.pendingOutputCount)
    }
    let total = nanos(clock.now - start)
    precondition(plain == rounds * payload.count)
    let mb = Double(rounds * payload.count) / 1_048_576
    let encrypt = mb / (Double(sendNanos) / 1e9)
    let both = mb / (Double(total) / 1e9)
    let allocs = Double(sentinel_allocation_count() - a0) / Double(rounds)
    print("records: encrypt \(fmt(encrypt, 0)) MiB/s (server send), encrypt+decrypt \(fmt(both, 0)) MiB/s, \(fmt(allocs, 2)) allocations per 64 KiB write")
}
