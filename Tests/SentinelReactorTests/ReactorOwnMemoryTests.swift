import Glibc
import SentinelReactor
import Testing

/// Memory of a test driver's own (as a host's buffer type would be): counts its releases, so a
/// test sees when the reactor let go of borrowed bytes.
final class OwnedBytes {
    let memory: UnsafeMutableRawBufferPointer
    let released: Locked<Int>
    init(count: Int, released: Locked<Int>) {
        memory = .allocate(byteCount: count, alignment: 16)
        self.released = released
    }
    deinit {
        memory.deallocate()
        released.update { $0 += 1 }
    }
}

/// An echo that reads every socket into memory of its own (`readsIntoOwnMemory`) in pieces of
/// `chunk` bytes and writes that memory back as borrowed `IOBuffer`s: no pooled buffer is used.
/// Stops reading while a write waits.
final class OwnMemoryEchoDriver: ConnectionDriver {
    let chunk: Int
    let released: Locked<Int>
    let allocated: Locked<Int>
    init(chunk: Int, released: Locked<Int>, allocated: Locked<Int>) {
        self.chunk = chunk
        self.released = released
        self.allocated = allocated
    }

    var readsIntoOwnMemory: Bool { true }
    func start(_ io: inout DriverIO) {}

    func receive(on endpoint: Endpoint, _ read: inout SocketRead, _ io: inout DriverIO) {
        let bytes = OwnedBytes(count: chunk, released: released)
        allocated.update { $0 += 1 }
        let n = read.read(into: bytes.memory)
        guard n > 0 else { return }
        io.write(endpoint, IOBuffer(borrowing: UnsafeRawBufferPointer(rebasing: bytes.memory[0..<n]), owner: bytes))
        io.setReading(endpoint, false)
    }

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        Issue.record("a driver reading into its own memory was handed a pooled buffer")
    }

    func drained(_ endpoint: Endpoint, _ io: inout DriverIO) { io.setReading(endpoint, true) }
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) { io.close(endpoint, .afterFlush) }
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { io.finish(.reset) }
}

/// Copy-free handover between the reactor and a driver's own memory: reads into the driver's
/// memory (`ConnectionDriver.receive`), borrowed `IOBuffer`s written without a copy, partial
/// writes and EAGAIN on borrowed bytes, and who owns the bytes when.
@Suite struct ReactorOwnMemoryTests {
    @Test func aBorrowedBufferIsReadOnlyAndNeverPooled() {
        let released = Locked(0)
        var owner: OwnedBytes? = OwnedBytes(count: 32, released: released)
        owner!.memory.copyBytes(from: pattern(32))
        var buffer = IOBuffer(borrowing: UnsafeRawBufferPointer(owner!.memory), owner: owner!)
        owner = nil
        #expect(released.value == 0, "the buffer keeps its owner")
        #expect(buffer.isBorrowed && buffer.readableBytes == 32 && buffer.writableBytes == 0 && buffer.writable.count == 0)
        #expect(buffer.append(pattern(8)) == 0)
        #expect(buffer.bytes == pattern(32))
        buffer.consume(32)
        // Emptied, an owned buffer would become writable again; a borrowed one never does.
        #expect(buffer.isEmpty && buffer.writableBytes == 0)
        let pool = BufferPool(bufferSize: 32, maxPooled: 4)
        pool.give(&buffer)
        #expect(pool.pooledCount == 0)
        buffer = IOBuffer(capacity: 1)
        #expect(released.value == 1, "the owner is released with the last borrowed buffer")
    }

    @Test func scriptedReads() {
        var read = SocketRead(scripted: pattern(10))
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { memory.deallocate() }
        #expect(read.read(into: memory) == 4 && read.offered == 4 && read.result == 4)
        #expect(Array(memory) == pattern(4))
        var end = SocketRead(scripted: [])
        #expect(end.read(into: memory) == 0 && end.result == 0)
        var failing = SocketRead(scripted: [1], errno: ECONNRESET)
        #expect(failing.read(into: memory) == -1 && failing.error == ECONNRESET)
    }

    /// The default `receive` (a driver that reads into the reactor's buffers) reads into a
    /// pooled buffer and hands it to `received`.
    @Test func theDefaultReceiveHandsAPooledBuffer() {
        let driver = CollectingDriver()
        var io = DriverIO(now: .now(), pool: BufferPool(bufferSize: 64, maxPooled: 2))
        var read = SocketRead(scripted: pattern(100))
        driver.receive(on: .downstream, &read, &io)
        #expect(read.offered == 64 && driver.received == pattern(64))
        var end = SocketRead(scripted: [])
        driver.receive(on: .downstream, &end, &io)
        #expect(driver.received == pattern(64), "an end of file delivers nothing (inputEnded follows)")
    }

    /// Reads into small pieces of the driver's memory (a full read leaves bytes behind, so the
    /// reactor reads again, edge-triggered), and the client's end of file after the bytes.
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func echoThroughOwnMemory(_ triggering: ReactorConfiguration.Triggering) throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        var config = ReactorConfiguration()
        config.triggering = triggering
        let released = Locked(0)
        let allocated = Locked(0)
        let reactor = try ReactorHandle.start(config) { r in
            r.addListener(fd: lfd) { _ in OwnMemoryEchoDriver(chunk: 1000, released: released, allocated: allocated) }
            r.setAccepting(true)
        }
        defer { reactor.stop() }
        let client = try Client(port: port)
        try client.send(pattern(100_000))
        #expect(try client.receive(exactly: 100_000) == pattern(100_000))
        client.shutdownOutput()
        #expect(client.receiveToEnd() == [])
        client.close()
        #expect(try reactor.waitForNoSessions())
        #expect(try reactor.ask { $0.pool.pooledCount } == 0, "no pooled buffer was taken")
        #expect(released.value == allocated.value, "every borrowed piece was let go")
    }

    /// A client that sends without reading: the reactor's writes of borrowed bytes end in
    /// partial writes and EAGAIN, the driver holds back its reads, and every byte comes back
    /// in order once the client reads; the owners are released when their bytes left.
    @Test func borrowedBytesThroughPartialWritesAndEAGAIN() throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        var config = ReactorConfiguration()
        config.maxOutputBytes = 256 * 1024
        let released = Locked(0)
        let allocated = Locked(0)
        let reactor = try ReactorHandle.start(config) { r in
            r.addListener(fd: lfd) { _ in OwnMemoryEchoDriver(chunk: 64 * 1024, released: released, allocated: allocated) }
            r.setAccepting(true)
        }
        defer { reactor.stop() }
        let client = try Client(port: port)
        defer { client.close() }
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
        #expect(try reactor.ask { $0.stats.writesBlocked } > 0)
        // Bytes are queued: their owners are alive.
        #expect(allocated.value - released.value >= 1)
        _ = fcntl(client.fd, F_SETFL, flags)
        var got = 0
        while got < sent {
            let part = try client.receive(exactly: min(65536, sent - got))
            if part != pattern(part.count, from: got) { throw TestFailure("echoed bytes out of order at \(got)") }
            got += part.count
        }
        client.shutdownOutput()
        #expect(client.receiveToEnd() == [])
        #expect(try reactor.waitForNoSessions())
        #expect(released.value == allocated.value, "every borrowed piece was let go")
    }

    /// A peer reset while borrowed bytes wait: the session ends and the owners are released.
    @Test func aResetReleasesQueuedBorrowedBytes() throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        let released = Locked(0)
        let allocated = Locked(0)
        let reactor = try ReactorHandle.start { r in
            r.addListener(fd: lfd) { _ in OwnMemoryEchoDriver(chunk: 64 * 1024, released: released, allocated: allocated) }
            r.setAccepting(true)
        }
        defer { reactor.stop() }
        let client = try Client(port: port)
        let flags = fcntl(client.fd, F_GETFL)
        _ = fcntl(client.fd, F_SETFL, flags | O_NONBLOCK)
        var refusals = 0
        var sent = 0
        while refusals < 20 && sent < 64 * 1024 * 1024 {
            let n = pattern(65536).withUnsafeBytes { send(client.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; refusals = 0; continue }
            refusals += 1
            usleep(5000)
        }
        #expect(try reactor.ask { $0.stats.writesBlocked } > 0)
        var linger = linger(l_onoff: 1, l_linger: 0)
        setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        client.close()
        #expect(try reactor.waitForNoSessions())
        #expect(released.value == allocated.value, "queued borrowed bytes were let go with the session")
    }
}

/// Collects what `received` gets (for the default `receive`).
final class CollectingDriver: ConnectionDriver {
    var received: [UInt8] = []
    func start(_ io: inout DriverIO) {}
    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) { received += buffer.bytes }
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {}
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) {}
}
