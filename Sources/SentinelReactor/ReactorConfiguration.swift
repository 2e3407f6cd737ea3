/// The reactor's knobs, every one bounded with a safe default.
public struct ReactorConfiguration: Sendable {
    /// How sockets are registered with epoll. Edge-triggered is the default: measured in
    /// docs/benchmarks.md ("Reactor groundwork"), it registers each socket once and turns read
    /// and write interest on and off without a system call.
    public enum Triggering: Sendable { case edge, level }

    public var triggering: Triggering = .edge
    /// Bytes per read (one pooled buffer). 16 KiB: a typical request head and small body in
    /// one read, and the TLS record size.
    public var bufferSize = 16 * 1024
    /// Idle buffers kept for reuse; beyond it they are freed.
    public var maxPooledBuffers = 256
    /// Output queued on one endpoint before the session is reset (a driver that ignores
    /// backpressure). Drivers pause their input long before this.
    public var maxOutputBytes = 1024 * 1024
    /// Endpoints (sockets) one session may hold.
    public var maxEndpoints = 8
    /// Events taken per epoll_wait.
    public var maxEventsPerWait = 256
    /// Reads per socket per readiness event before others get a turn (edge-triggered sockets
    /// with more to read are revisited after the batch).
    public var maxReadsPerEvent = 4
    /// Connections accepted per listener per readiness event.
    public var acceptBatch = 64
    /// After EMFILE/ENFILE, accepting pauses this long (the backlog holds the connections).
    public var acceptPauseMilliseconds: UInt64 = 100
    /// Timer wheel: tick and slot count (4 ms × 4096 ≈ 16 s per revolution).
    public var timerTickMilliseconds: UInt64 = 4
    public var timerSlots = 4096
    /// Control messages queued before `send` refuses.
    public var mailboxCapacity = 1024

    public init() {}
}

/// Counters the tests and the benchmark read (loop thread only).
public struct ReactorStats: Sendable, Equatable {
    public var wakeups = 0
    public var events = 0
    public var epollControls = 0
    public var accepted = 0
    /// Endpoints parked outside their session (idle keep-alive connections), adopted by a
    /// session again, and closed while parked.
    public var parked = 0
    public var adopted = 0
    public var parkedClosed = 0
    public var reads = 0
    public var writes = 0
    /// Flushes that stopped at a full socket (a partial write or EAGAIN) and wait for EPOLLOUT.
    public var writesBlocked = 0
    public var sessionsOpened = 0
    public var sessionsClosed = 0
    public var timersFired = 0
    /// Sessions still open when a drain's grace ended (closed then).
    public var sessionsCut = 0
}
