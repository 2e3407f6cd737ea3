import Dispatch
import Glibc
import SentinelReactor
import Testing

/// The reactor with real sockets on 127.0.0.1: accept, read, write, close, backpressure,
/// accept switching and the mailbox.
@Suite struct ReactorSocketTests {
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func acceptReadWriteClose(_ triggering: ReactorConfiguration.Triggering) throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        var config = ReactorConfiguration()
        config.triggering = triggering
        let reactor = try ReactorHandle.start(config) { r in
            r.addListener(fd: lfd) { _ in EchoDriver() }
            r.setAccepting(true)
        }
        defer { reactor.stop() }
        let client = try Client(port: port)
        try client.send("hello reactor")
        #expect(try client.receive(exactly: 13) == Array("hello reactor".utf8))
        try client.send(pattern(100_000))
        #expect(try client.receive(exactly: 100_000) == pattern(100_000))
        // Half-close: the echo finishes its output and closes.
        client.shutdownOutput()
        #expect(client.receiveToEnd() == [])
        client.close()
        #expect(try reactor.waitForNoSessions())
        let stats = try reactor.ask { $0.stats }
        #expect(stats.accepted == 1 && stats.sessionsOpened == 1 && stats.sessionsClosed == 1)
    }

    /// A client that sends without reading: the echo stops reading once its write waits, so
    /// the client's sends stop (both kernel buffers full) long before the reactor's 256 KiB
    /// output bound would reset the connection; then every byte comes back in order.
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func slowReaderGetsBackpressureNotBuffering(_ triggering: ReactorConfiguration.Triggering) throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        var config = ReactorConfiguration()
        config.triggering = triggering
        config.maxOutputBytes = 256 * 1024
        let reactor = try ReactorHandle.start(config) { r in
            r.addListener(fd: lfd) { _ in EchoDriver() }
            r.setAccepting(true)
        }
        defer { reactor.stop() }
        let client = try Client(port: port)
        defer { client.close() }
        // Non-blocking sends until the kernel refuses: the echo has stopped taking bytes.
        let flags = fcntl(client.fd, F_GETFL)
        _ = fcntl(client.fd, F_SETFL, flags | O_NONBLOCK)
        var sent = 0
        var refusals = 0
        while refusals < 20 && sent < 64 * 1024 * 1024 {
            let chunk = pattern(65536, from: sent)
            let n = chunk.withUnsafeBytes { send(client.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; refusals = 0; continue }
            guard errno == EAGAIN else { throw TestFailure("send: \(errno)") }
            refusals += 1
            usleep(5000)
        }
        #expect(sent < 64 * 1024 * 1024, "the echo kept reading: no backpressure")
        // The reactor hit a full socket (partial write or EAGAIN) and is waiting for EPOLLOUT.
        #expect(try reactor.ask { $0.sessionCount } == 1)
        _ = fcntl(client.fd, F_SETFL, flags)
        // Read everything back while sending nothing more: in order, none lost.
        var got = 0
        while got < sent {
            let part = try client.receive(exactly: min(65536, sent - got))
            if part != pattern(part.count, from: got) { throw TestFailure("echoed bytes out of order at \(got)") }
            got += part.count
        }
        #expect(got == sent)
    }

    /// A driver that produces more than the peer reads: once the socket is full, a flush
    /// stops at a partial write or EAGAIN and waits for EPOLLOUT, and the generator continues
    /// only on `drained` (else the 256 KiB output bound would reset the connection).
    @Test func partialWritesToASlowReader() throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        // More than both kernel buffers hold (tcp_wmem and tcp_rmem maxima are 4 and 6 MiB).
        let total = 24 * 1024 * 1024
        var config = ReactorConfiguration()
        config.maxOutputBytes = 256 * 1024
        let reactor = try ReactorHandle.start(config) { r in
            r.addListener(fd: lfd) { _ in GeneratorDriver(total: total) }
            r.setAccepting(true)
        }
        defer { reactor.stop() }
        let client = try Client(port: port)
        defer { client.close() }
        // Read nothing until the reactor found the socket full.
        #expect(pollTrue { (try? reactor.ask { $0.stats.writesBlocked }) ?? 0 > 0 })
        var got = 0
        while got < total {
            let part = try client.receive(exactly: min(65536, total - got))
            if part != pattern(part.count, from: got) { throw TestFailure("wrong bytes at \(got)") }
            got += part.count
        }
        #expect(client.receiveToEnd() == [])
        #expect(try reactor.waitForNoSessions())
    }

    /// A worker starts with accepting off: connections wait in the backlog until told.
    @Test func acceptingStartsOffAndTurnsOn() throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        let reactor = try ReactorHandle.start { r in
            r.addListener(fd: lfd) { _ in EchoDriver() }
        }
        defer { reactor.stop() }
        let client = try Client(port: port, timeoutSeconds: 1)  // completes in the kernel's backlog
        defer { client.close() }
        try client.send("early")
        var byte: UInt8 = 0
        #expect(recv(client.fd, &byte, 1, 0) < 0, "answered while accepting was off")
        #expect(try reactor.ask { $0.isAccepting } == false)
        #expect(try reactor.ask { $0.stats.accepted } == 0)
        #expect(reactor.send(.accepting(true)))
        #expect(try client.receive(exactly: 5) == Array("early".utf8))
        #expect(reactor.send(.accepting(false)))
        #expect(try reactor.ask { $0.isAccepting } == false)
    }

    /// Control messages from several threads arrive, each exactly once; a full mailbox refuses.
    @Test func mailboxFromOtherThreads() throws {
        let reactor = try ReactorHandle.start { _ in }
        defer { reactor.stop() }
        let counter = Locked(0)
        let threads = 4
        let perThread = 500
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<perThread {
                while !reactor.send(.run({ _ in counter.update { $0 += 1 } })) { usleep(100) }
            }
        }
        #expect(try reactor.ask { _ in counter.value } == threads * perThread)

        var small = ReactorConfiguration()
        small.mailboxCapacity = 3
        let idle = try Reactor(configuration: small)  // not running: nothing drains it
        #expect(idle.mailbox.send(.accepting(true)))
        #expect(idle.mailbox.send(.accepting(true)))
        #expect(idle.mailbox.send(.accepting(true)))
        #expect(!idle.mailbox.send(.accepting(true)))
    }

    /// Payload messages reach the host's handler on the loop thread.
    @Test func payloadMessagesReachTheHost() throws {
        let seen = Locked<[String]>([])
        let reactor = try ReactorHandle.start { r in
            r.onMessage = { _, m in
                switch m {
                case .reload(let s as String), .healthVerdicts(let s as String), .ticketKeys(let s as String):
                    seen.update { $0.append(s) }
                default: break
                }
            }
        }
        defer { reactor.stop() }
        reactor.send(.reload("generation 2"))
        reactor.send(.healthVerdicts("b down"))
        reactor.send(.ticketKeys("keys"))
        #expect(try reactor.ask { _ in seen.value } == ["generation 2", "b down", "keys"])
    }

    /// Drain: accepting stops, drivers hear `drain`, the loop ends when the last session does.
    @Test func drainEndsTheLoopWhenSessionsFinish() throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        let reactor = try ReactorHandle.start { r in
            r.addListener(fd: lfd) { _ in DrainingEcho() }
            r.setAccepting(true)
        }
        let client = try Client(port: port)
        defer { client.close() }
        try client.send("x")
        #expect(try client.receive(exactly: 1) == [UInt8(ascii: "x")])
        reactor.send(.drain(graceMilliseconds: 10_000))
        #expect(client.receiveToEnd() == Array("bye".utf8))
        #expect(reactor.join() == nil)
    }
}

/// An echo that says "bye" and closes when the worker drains.
final class DrainingEcho: ConnectionDriver {
    func start(_ io: inout DriverIO) {}
    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) { io.write(endpoint, buffer) }
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) { io.finish() }
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { io.finish(.reset) }
    func drain(_ io: inout DriverIO) {
        let b = io.makeBuffer()
        b.append("bye")
        io.write(.downstream, b)
        io.finish(.afterFlush)
    }
}
