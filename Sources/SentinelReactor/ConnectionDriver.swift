internal import Glibc

/// One socket of a session, numbered by the driver. `downstream` (0) is the accepted
/// connection; a driver numbers the connections it opens itself (`DriverIO.connect`), so the
/// driver stays sans-I/O: it never holds a descriptor, and a test can play every event.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public let raw: UInt8
    public init(_ raw: UInt8) { self.raw = raw }
    public static let downstream = Endpoint(0)
    /// The first upstream connection (a convention, not a rule).
    public static let upstream = Endpoint(1)
    public var description: String { raw == 0 ? "downstream" : "endpoint \(raw)" }
}

/// How an endpoint is closed.
public enum CloseMode: Sendable, Equatable {
    /// Write what is queued, then close (a clean end of the connection).
    case afterFlush
    /// Write what is queued, then shut down the sending side only (half-close: the peer sees
    /// end of file and may still send). The endpoint stays open for reading.
    case outputAfterFlush
    /// Drop what is queued and reset the connection (RST): a connection that can no longer be
    /// trusted, or a request aborted mid-body.
    case reset
}

/// What a driver asks the reactor to do. Performed in order, after the driver's callback
/// returns; a driver never waits for one.
public enum DriverAction {
    /// Queue the buffer's readable bytes for `endpoint` (written with one writev together
    /// with whatever else is queued). The buffer belongs to the reactor from now on.
    case write(Endpoint, IOBuffer)
    /// Read interest on or off: the backpressure lever. Off costs nothing while edge-triggered.
    case reading(Endpoint, Bool)
    /// The session's single deadline (nil: none). The driver computes it from `DriverIO.now`
    /// and its own timeouts; `deadlineReached` comes at or after it.
    case deadline(ReactorInstant?)
    /// Close one endpoint.
    case close(Endpoint, CloseMode)
    /// Open a connection numbered `endpoint` to `address` (non-blocking; `connected` or
    /// `failed` follows). Its timeout is the driver's own deadline.
    case connect(Endpoint, SocketAddress)
    /// Close every endpoint and clear the deadline: the session ends (once queued output is
    /// written, for the flushing modes).
    case finish(CloseMode)
}

/// What a driver is given with every event: the loop's time, and a list to put actions in.
/// A value: drivers are tested by calling them with a `DriverIO` and reading `actions`.
public struct DriverIO {
    /// The loop's clock reading for this batch of events.
    public var now: ReactorInstant
    public private(set) var actions: [DriverAction] = []
    /// Where `makeBuffer` takes buffers from (the reactor's pool).
    public let pool: BufferPool
    /// The session's token: what `Reactor.wake(session:)` takes to call this driver again
    /// outside a socket event (0 in tests that play events by hand).
    public var session: UInt64 = 0

    public init(now: ReactorInstant, pool: BufferPool, session: UInt64 = 0) {
        self.now = now
        self.pool = pool
        self.session = session
    }

    /// With a reused action list (the reactor's, or a wrapping driver's), so a callback allocates nothing.
    public init(now: ReactorInstant, pool: BufferPool, session: UInt64, storage: inout [DriverAction]) {
        self.now = now
        self.pool = pool
        self.session = session
        swap(&actions, &storage)
    }

    public mutating func write(_ endpoint: Endpoint, _ buffer: IOBuffer) { actions.append(.write(endpoint, buffer)) }
    public mutating func setReading(_ endpoint: Endpoint, _ on: Bool) { actions.append(.reading(endpoint, on)) }
    public mutating func setDeadline(_ deadline: ReactorInstant?) { actions.append(.deadline(deadline)) }
    public mutating func close(_ endpoint: Endpoint, _ mode: CloseMode = .afterFlush) { actions.append(.close(endpoint, mode)) }
    public mutating func connect(_ endpoint: Endpoint, to address: SocketAddress) { actions.append(.connect(endpoint, address)) }
    public mutating func finish(_ mode: CloseMode = .afterFlush) { actions.append(.finish(mode)) }

    /// An empty pooled buffer for output the driver produces itself.
    public func makeBuffer() -> IOBuffer { pool.take() }

    /// Hands the actions over (the reactor performs them) and keeps the list's storage.
    public mutating func takeActions(into out: inout [DriverAction]) {
        swap(&out, &actions)
    }
}

/// A protocol engine hosted by the reactor, sans I/O: bytes and socket events in, actions out.
/// The HTTP/1 connection logic (carved out of ProxyConnectionHandler), a TLS layer over
/// `TLSEngine`, and later HTTP/2 are drivers; a driver may wrap another (TLS under HTTP/1)
/// by calling it with its own `DriverIO` and translating the actions.
///
/// One driver instance per session (an accepted connection and the connections it opens),
/// called only on its reactor's thread. The session ends when it has no open endpoint and no
/// deadline (`finish` clears both).
public protocol ConnectionDriver: AnyObject {
    /// Whether the driver reads each readable socket itself, into memory of its own
    /// (`receive(on:_:_:)`), instead of being handed the reactor's pooled buffers (`received`).
    /// Asked once, when the session starts. A host whose protocol code keeps another buffer
    /// type reads straight into it: no copy between the reactor's buffer and its own.
    var readsIntoOwnMemory: Bool { get }
    /// `endpoint` is readable and its reading is on: read once (`read.read(into:)`, exactly
    /// one call) into memory of the driver's choosing and use what arrived. On an end of file
    /// or an error the read returns 0 or less: do nothing, the reactor reports it
    /// (`inputEnded`, `failed`) after this call. Only called when `readsIntoOwnMemory`.
    func receive(on endpoint: Endpoint, _ read: inout SocketRead, _ io: inout DriverIO)
    /// The accepted connection is ready (the driver sets reading, a deadline, or connects).
    /// Reading on the downstream is on from the start.
    func start(_ io: inout DriverIO)
    /// Bytes arrived on `endpoint`. The buffer is the driver's: keep it, forward it with
    /// `write`, or drop it (it returns to the pool).
    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO)
    /// The peer of `endpoint` will send nothing more (end of file). Reading stops.
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO)
    /// Everything queued for `endpoint` is in the kernel (after every flush that empties the
    /// queue, so a driver that paused its other side on a write resumes here).
    func drained(_ endpoint: Endpoint, _ io: inout DriverIO)
    /// The connection numbered `endpoint` is established (reading on it is on).
    func connected(_ endpoint: Endpoint, _ io: inout DriverIO)
    /// `endpoint` failed (connect refused, reset, error) and is closed already.
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO)
    /// The session's deadline passed.
    func deadlineReached(_ io: inout DriverIO)
    /// The worker drains (reload or shutdown): finish the current exchange, then close.
    func drain(_ io: inout DriverIO)
    /// The host asked for this call (`Reactor.wake(session:)`): something the driver waited for
    /// arrived by other means than its sockets.
    func woken(_ io: inout DriverIO)
}

extension ConnectionDriver {
    public var readsIntoOwnMemory: Bool { false }
    /// Reads into a pooled buffer and hands it over as `received` (what the reactor does itself
    /// for a driver that does not read into its own memory).
    public func receive(on endpoint: Endpoint, _ read: inout SocketRead, _ io: inout DriverIO) {
        let buffer = io.makeBuffer()
        let n = read.read(into: buffer.writable)
        guard n > 0 else { return }
        buffer.commit(n)
        received(buffer, on: endpoint, &io)
    }
    public func drained(_ endpoint: Endpoint, _ io: inout DriverIO) {}
    public func connected(_ endpoint: Endpoint, _ io: inout DriverIO) {}
    public func deadlineReached(_ io: inout DriverIO) {
        io.finish(.reset)
    }
    public func drain(_ io: inout DriverIO) {}
    public func woken(_ io: inout DriverIO) {}
}

/// One read from an endpoint into memory a driver chose (`ConnectionDriver.receive`). The
/// reactor reads the socket; tests play a read from bytes (`SocketRead(scripted:)`).
public struct SocketRead {
    private enum Source {
        case socket(Int32)
        case scripted([UInt8], errno: Int32)
    }

    private let source: Source
    /// Bytes read (> 0), 0 at end of file, -1 after an error (`error`); nil until `read`.
    public private(set) var result: Int?
    /// The errno of a failed read (never EINTR: that read is repeated).
    public private(set) var error: Int32 = 0
    /// How much memory the read was offered (a read that filled it may have left bytes behind).
    public private(set) var offered = 0

    init(socket fd: Int32) { source = .socket(fd) }

    /// A read that delivers `bytes` (as much as fits), or end of file for none, or fails with
    /// `errno` when it is not 0 (tests).
    public init(scripted bytes: [UInt8], errno: Int32 = 0) { source = .scripted(bytes, errno: errno) }

    /// Reads once into `memory`; returns the bytes read (0: end of file or nothing, < 0: error).
    public mutating func read(into memory: UnsafeMutableRawBufferPointer) -> Int {
        precondition(result == nil, "one read per receive")
        precondition(memory.count > 0, "a read needs memory")
        offered = memory.count
        let n: Int
        switch source {
        case .socket(let fd):
            var r: Int
            repeat {
                r = Glibc.read(fd, memory.baseAddress, memory.count)
            } while r < 0 && errno == EINTR
            if r < 0 { error = errno }
            n = r
        case .scripted(let bytes, let e):
            if e != 0 {
                error = e
                n = -1
            } else {
                n = min(bytes.count, memory.count)
                if n > 0 { memory.copyBytes(from: bytes[0..<n]) }
            }
        }
        result = n
        return n
    }
}
