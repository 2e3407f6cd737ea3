import Glibc
import SentinelReactor
import SentinelTestSupport
import Synchronization
import Testing

/// Parking: an endpoint leaves its session as an idle connection the reactor watches alone,
/// and a later session adopts it (how upstream keep-alive pools work on the reactor).
@Suite struct ReactorParkingTests {
    /// A connection parked by one session and adopted by another carries the second
    /// request on the same TCP connection; edge-triggered, the move costs no epoll_ctl.
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func aParkedSocketMovesToAnotherSession(_ triggering: ReactorConfiguration.Triggering) throws {
        let server = try LineServer()
        defer { server.stop() }
        let reactor = try start(triggering)
        defer { reactor.stop() }
        let world = ParkingWorld()
        let target = SocketAddress(host: "127.0.0.1", port: server.port)!
        try reactor.ask { r in r.startSession(ParkingDriver(reactor: r, world: world, connectTo: target, say: "one\n", park: true)) }
        #expect(pollTrue { world.state.value.answers == ["one\n"] && world.state.value.parked })
        let controlsBefore = try reactor.ask { $0.stats.epollControls }
        try reactor.ask { r in r.startSession(ParkingDriver(reactor: r, world: world, adopt: true, say: "two\n", park: false)) }
        #expect(pollTrue { world.state.value.answers == ["one\n", "two\n"] })
        #expect(server.connections.value == 1)
        let stats = try reactor.ask { $0.stats }
        #expect(stats.parked == 1 && stats.adopted == 1)
        if triggering == .edge { #expect(stats.epollControls == controlsBefore) }
    }

    /// The peer closes a parked connection: the reactor closes it and says so (`onClose`).
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func aParkedSocketThePeerClosesIsReported(_ triggering: ReactorConfiguration.Triggering) throws {
        let server = try LineServer()
        defer { server.stop() }
        let reactor = try start(triggering)
        defer { reactor.stop() }
        let world = ParkingWorld()
        let target = SocketAddress(host: "127.0.0.1", port: server.port)!
        try reactor.ask { r in r.startSession(ParkingDriver(reactor: r, world: world, connectTo: target, say: "one\n", park: true)) }
        #expect(pollTrue { world.state.value.parked })
        #expect(!world.state.value.closedWhileParked)
        server.closeConnections()
        #expect(pollTrue { world.state.value.closedWhileParked })
        #expect(try reactor.ask { $0.parkedCount } == 0)
        #expect(try reactor.ask { $0.stats.parkedClosed } == 1)
        // A session that adopts it anyway hears a failure on that endpoint.
        try reactor.ask { r in r.startSession(ParkingDriver(reactor: r, world: world, adopt: true, say: "two\n", park: false)) }
        #expect(pollTrue { world.state.value.failures == ["endpoint 1: read: Connection reset by peer (errno 104)"] })
        #expect(try reactor.waitForNoSessions())
    }

    /// A socket with bytes nobody read is never kept: reusing it would mix two responses.
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func aSocketWithUnreadBytesIsNotKept(_ triggering: ReactorConfiguration.Triggering) throws {
        // The answer is larger than one read buffer: after the first read, bytes wait.
        let server = try LineServer(answerSize: 20_000)
        defer { server.stop() }
        let reactor = try start(triggering)
        defer { reactor.stop() }
        let world = ParkingWorld()
        let target = SocketAddress(host: "127.0.0.1", port: server.port)!
        try reactor.ask { r in r.startSession(ParkingDriver(reactor: r, world: world, connectTo: target, say: "one\n", park: true)) }
        #expect(pollTrue { world.state.value.closedWhileParked })
        #expect(try reactor.ask { $0.parkedCount } == 0)
    }

    /// A session's token is never 0, the first one's neither: hosts read 0 as "no session".
    @Test func noSessionHasTokenZero() throws {
        let reactor = try start(.edge)
        defer { reactor.stop() }
        let tokens = Locked<[UInt64]>([])
        try reactor.ask { r in
            for _ in 0..<3 { r.startSession(TokenProbe(tokens)) }
        }
        #expect(tokens.value.count == 3 && !tokens.value.contains(0), "\(tokens.value)")
    }

    func start(_ triggering: ReactorConfiguration.Triggering) throws -> ReactorHandle {
        var configuration = ReactorConfiguration()
        configuration.triggering = triggering
        return try ReactorHandle.start(configuration) { _ in }
    }
}

/// What the parking drivers saw, readable from the test thread.
final class ParkingWorld: Sendable {
    struct State: Sendable {
        var answers: [String] = []
        var parked = false
        var closedWhileParked = false
        var failures: [String] = []
    }
    let state = Locked(State())
    /// The parked socket (reactor thread only).
    nonisolated(unsafe) var handle: ParkedSocket?
}

/// Connects (or adopts the world's parked socket) as endpoint 1, sends `say`, reads the answer
/// (the first read), then parks the endpoint or closes it.
final class ParkingDriver: ConnectionDriver {
    let world: ParkingWorld
    let target: SocketAddress?
    let adopt: Bool
    let say: String
    let park: Bool

    unowned let reactor: Reactor

    init(reactor: Reactor, world: ParkingWorld, connectTo target: SocketAddress? = nil, adopt: Bool = false, say: String, park: Bool) {
        self.reactor = reactor
        self.world = world
        self.target = target
        self.adopt = adopt
        self.say = say
        self.park = park
    }

    func start(_ io: inout DriverIO) {
        if let target {
            io.connect(.upstream, to: target)
        } else if adopt, let handle = world.handle {
            // Adopted at once; the greeting goes out with this call's actions.
            reactor.adopt(handle, session: io.session, as: .upstream)
            let b = io.makeBuffer()
            b.append(say)
            io.write(.upstream, b)
        }
    }

    func connected(_ endpoint: Endpoint, _ io: inout DriverIO) {
        let b = io.makeBuffer()
        b.append(say)
        io.write(endpoint, b)
    }

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        let text = String(decoding: buffer.readable, as: UTF8.self)
        world.state.update { $0.answers.append(String(text.prefix(4))) }
        if park {
            let handle = ParkedSocket()
            let world = world
            handle.onClose = { world.state.update { $0.closedWhileParked = true } }
            world.handle = handle
            if reactor.park(session: io.session, endpoint, into: handle) {
                world.state.update { $0.parked = true }
            }
        } else {
            io.close(endpoint)
        }
    }

    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) { io.close(endpoint) }

    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) {
        world.state.update { $0.failures.append("\(endpoint): \(error)") }
    }
}

/// A blocking line server: answers each line with the line (or `answerSize` bytes starting
/// with it); `closeConnections` ends every connection (the peer sees end of file).
final class LineServer: Sendable {
    let fd: Int32
    let port: Int
    let connections = Locked(0)
    let accepted = Locked<[Int32]>([])

    init(answerSize: Int? = nil) throws {
        (fd, port) = try makeListener()
        let listener = fd
        let connections = connections
        let accepted = accepted
        detachThread {
            // The listener is closed here, once accepting ended (`stop` only shuts it down).
            defer { close(listener) }
            while true {
                var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, -1) > 0, pfd.revents & Int16(POLLIN) != 0 else { return }
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK)
                connections.update { $0 += 1 }
                accepted.update { $0.append(c) }
                detachThread {
                    defer {
                        // Forgotten before it is closed: `closeConnections` never touches a
                        // descriptor number that may belong to someone else by then.
                        accepted.update { list in
                            list.removeAll { $0 == c }
                            close(c)
                        }
                    }
                    var line: [UInt8] = []
                    var byte: UInt8 = 0
                    while recv(c, &byte, 1, 0) == 1 {
                        line.append(byte)
                        guard byte == 10 else { continue }
                        var answer = line
                        if let size = answerSize { answer += [UInt8](repeating: 46, count: max(0, size - line.count)) }
                        _ = answer.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        line = []
                    }
                }
            }
        }
    }

    func closeConnections() {
        accepted.update { list in for c in list { shutdown(c, Int32(SHUT_RDWR)) } }
    }

    func stop() {
        closeConnections()
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// Records its session's token and ends at once.
final class TokenProbe: ConnectionDriver {
    let tokens: Locked<[UInt64]>
    init(_ tokens: Locked<[UInt64]>) { self.tokens = tokens }
    func start(_ io: inout DriverIO) { tokens.update { $0.append(io.session) } }
    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {}
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {}
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) {}
}
