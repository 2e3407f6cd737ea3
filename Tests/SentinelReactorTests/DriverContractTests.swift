import SentinelReactor
import Testing

/// Drivers without sockets: events in, actions out (the contract the HTTP/1 and HTTP/2
/// drivers will be tested through).
@Suite struct DriverContractTests {
    let pool = BufferPool(bufferSize: 64, maxPooled: 4)
    let t0 = ReactorInstant(milliseconds: 1000)

    func describe(_ actions: [DriverAction]) -> [String] {
        actions.map { a in
            switch a {
            case .write(let e, let b): "write \(e.raw) \(String(decoding: b.readable, as: UTF8.self))"
            case .reading(let e, let on): "reading \(e.raw) \(on)"
            case .deadline(let d): "deadline \(d.map { "\($0.milliseconds)" } ?? "none")"
            case .close(let e, let m): "close \(e.raw) \(m)"
            case .connect(let e, let to): "connect \(e.raw) \(to)"
            case .finish(let m): "finish \(m)"
            }
        }
    }

    func bytes(_ s: String) -> IOBuffer {
        let b = pool.take()
        b.append(s)
        return b
    }

    @Test func relayHoldsEarlyBytesUntilConnectedThenFollowsDrains() {
        let relay = RelayDriver(upstream: SocketAddress("127.0.0.1:9")!)
        var io = DriverIO(now: t0, pool: pool)
        relay.start(&io)
        #expect(describe(io.actions) == ["connect 1 127.0.0.1:9"])

        io = DriverIO(now: t0, pool: pool)
        relay.received(bytes("GET /"), on: .downstream, &io)
        #expect(describe(io.actions) == ["reading 0 false"])

        io = DriverIO(now: t0, pool: pool)
        relay.connected(.upstream, &io)
        #expect(describe(io.actions) == ["write 1 GET /"])  // reading resumes on drained, not before

        io = DriverIO(now: t0, pool: pool)
        relay.drained(.upstream, &io)
        #expect(describe(io.actions) == ["reading 0 true"])

        io = DriverIO(now: t0, pool: pool)
        relay.received(bytes("HTTP/1.1 200"), on: .upstream, &io)
        #expect(describe(io.actions) == ["write 0 HTTP/1.1 200", "reading 1 false"])

        io = DriverIO(now: t0, pool: pool)
        relay.inputEnded(on: .upstream, &io)
        #expect(describe(io.actions) == ["close 0 outputAfterFlush"])

        io = DriverIO(now: t0, pool: pool)
        relay.inputEnded(on: .downstream, &io)
        #expect(describe(io.actions) == ["finish afterFlush"])
    }

    @Test func relayResetsBothSidesWhenEitherFails() {
        let relay = RelayDriver(upstream: SocketAddress("[::1]:80")!)
        var io = DriverIO(now: t0, pool: pool)
        relay.failed(.upstream, ReactorError(.connect, errno: 111), &io)
        #expect(describe(io.actions) == ["finish reset"])
    }

    @Test func addressesParseAndPrint() {
        #expect(SocketAddress("127.0.0.1:8080")?.description == "127.0.0.1:8080")
        #expect(SocketAddress("[::1]:443")?.description == "[::1]:443")
        #expect(SocketAddress("localhost:80") == nil)  // numbers only on the data path
        #expect(SocketAddress("127.0.0.1:70000") == nil)
        #expect(ReactorError(.connect, errno: 111).description == "connect: Connection refused (errno 111)")
    }

    @Test func poolIsBoundedAndReusesOnlyUnsharedBuffers() {
        let pool = BufferPool(bufferSize: 32, maxPooled: 2)
        var a = pool.take()
        let keep = a
        pool.give(&a)  // still held by `keep`: not pooled
        #expect(pool.pooledCount == 0)
        _ = keep
        var b = pool.take(), c = pool.take(), d = pool.take()
        pool.give(&b)
        pool.give(&c)
        pool.give(&d)  // over maxPooled: freed
        #expect(pool.pooledCount == 2)
        let e = pool.take()
        #expect(e.readableBytes == 0 && e.capacity == 32)
        #expect(e.append(Array(repeating: 1, count: 40)) == 32)  // never grows
    }
}
