internal import CSentinelLinux
internal import Glibc

/// One event loop on one thread: epoll over the worker's listeners, every accepted and every
/// outgoing socket, and the mailbox's eventfd; a timer wheel for every session's single
/// deadline; drivers (`ConnectionDriver`) for everything protocol-shaped. See
/// docs/architecture.md, "Own reactor (issue 13)".
///
/// Not Sendable: every method runs on the loop's thread. Other threads talk to it through its
/// `mailbox` (`ReactorHandle.send`).
public final class Reactor {
    public let configuration: ReactorConfiguration
    public let mailbox: ReactorMailbox
    public let pool: BufferPool
    public internal(set) var stats = ReactorStats()
    /// The clock reading of the current loop iteration.
    public internal(set) var now: ReactorInstant
    /// Payload messages (reload, health verdicts, ticket keys) go here.
    public var onMessage: ((Reactor, ReactorMessage) -> Void)?

    let epfd: Int32
    let edgeTriggered: Bool
    var registrations = SlotTable<Registration>()
    var sessions = SlotTable<Session>()
    var listeners: [Listener] = []
    var wheel: TimerWheel
    var running = false
    var draining: ReactorInstant?
    var acceptingWanted = false
    var acceptPausedUntil: ReactorInstant?

    // Per-iteration scratch, kept to avoid allocations.
    var events: UnsafeMutablePointer<sentinel_poll_event>
    var iovecs: UnsafeMutablePointer<iovec>
    static let maxIovecs = 64
    var actionScratch: [DriverAction] = []
    var dueTimers: [TimerWheel.Entry] = []
    var readyToRead: [EndpointSocket] = []
    var messages: [ReactorMessage] = []
    var failuresToReport: [(Session, Endpoint, ReactorError)] = []
    var deferredFlushes: [EndpointSocket] = []
    var flushDepth = 0
    /// The host's own work on this loop (Reactor+Tasks.swift): closures to run after the
    /// current batch, and timed ones.
    var soon: [() -> Void] = []
    var tasks = HostTasks()

    public init(configuration: ReactorConfiguration = ReactorConfiguration()) throws(ReactorError) {
        self.configuration = configuration
        let ep = sentinel_epoll_create()
        guard ep >= 0 else { throw .last(.epollCreate) }
        epfd = ep
        do {
            mailbox = try ReactorMailbox(capacity: configuration.mailboxCapacity)
        } catch {
            Glibc.close(ep)
            throw error
        }
        edgeTriggered = configuration.triggering == .edge
        pool = BufferPool(bufferSize: configuration.bufferSize, maxPooled: configuration.maxPooledBuffers)
        now = .now()
        wheel = TimerWheel(tickMilliseconds: configuration.timerTickMilliseconds, slotCount: configuration.timerSlots, now: now)
        events = .allocate(capacity: max(1, min(configuration.maxEventsPerWait, 1024)))
        iovecs = .allocate(capacity: Self.maxIovecs)
        actionScratch.reserveCapacity(16)
        let token = registrations.insert(.mailbox)
        guard sentinel_epoll_ctl(epfd, Int32(SENTINEL_EPOLL_CTL_ADD), mailbox.eventFD, UInt32(SENTINEL_EPOLLIN), token) == 0 else {
            let e = ReactorError.last(.epollControl)
            Glibc.close(ep)
            throw e
        }
    }

    deinit {
        closeEverything()
        Glibc.close(epfd)
        events.deallocate()
        iovecs.deallocate()
    }

    /// Sessions currently open.
    public var sessionCount: Int { sessions.count }

    /// Runs the loop on the calling thread until `stop` or the end of a drain.
    public func run() throws(ReactorError) {
        running = true
        defer { running = false }
        while running {
            let timeout = nextTimeout()
            let n = sentinel_epoll_wait(epfd, events, Int32(min(configuration.maxEventsPerWait, 1024)), timeout)
            now = .now()
            stats.wakeups += 1
            if n < 0 {
                if errno == EINTR { continue }
                throw .last(.epollWait)
            }
            stats.events += Int(n)
            for i in 0..<Int(n) {
                let event = events[i]
                dispatch(token: event.token, events: event.events)
            }
            runReadyQueue()
            runDeferredFlushes()
            reportFailures()
            expireTimers()
            runHostTasks()
            checkAcceptPause()
            if let end = draining, sessions.count == 0 || now >= end {
                stats.sessionsCut += sessions.count
                closeEverything()
                running = false
            }
        }
    }

    /// The epoll timeout: 0 with work queued, else the wheel's next tick (or the drain's end).
    func nextTimeout() -> Int32 {
        if !readyToRead.isEmpty || !failuresToReport.isEmpty || !deferredFlushes.isEmpty || !soon.isEmpty { return 0 }
        var ms = wheel.millisecondsUntilNextTick(now: now) ?? -1
        if let next = tasks.earliest { ms = earlier(ms, next) }
        if let end = draining { ms = earlier(ms, end) }
        if let end = acceptPausedUntil { ms = earlier(ms, end) }
        return Int32(clamping: ms)
    }

    private func earlier(_ ms: Int, _ instant: ReactorInstant) -> Int {
        let d = instant.milliseconds > now.milliseconds ? Int(instant.milliseconds - now.milliseconds) : 0
        return ms < 0 ? d : min(ms, d)
    }

    func dispatch(token: UInt64, events: UInt32) {
        guard let registration = registrations[token] else { return }  // closed earlier in this batch
        switch registration {
        case .mailbox:
            handleMailbox()
        case .listener(let listener):
            acceptConnections(listener)
        case .socket(let socket):
            handleSocket(socket, events: events)
        case .parked(let handle):
            parkedEvent(handle, events: events)
        }
    }

    // MARK: messages

    func handleMailbox() {
        mailbox.takeAll(into: &messages)
        let batch = messages
        messages.removeAll(keepingCapacity: true)
        for message in batch {
            switch message {
            case .accepting(let on):
                setAccepting(on)
            case .drain(let grace):
                startDrain(graceMilliseconds: grace)
            case .stop:
                closeEverything()
                running = false
            case .run(let body):
                body(self)
            case .reload, .healthVerdicts, .ticketKeys:
                onMessage?(self, message)
            }
        }
    }

    /// Stop accepting, ask every driver to finish, leave when the last session ends or the grace is over.
    public func startDrain(graceMilliseconds: UInt64) {
        setAccepting(false)
        draining = now.adding(milliseconds: graceMilliseconds)
        for session in sessions.values {
            callDriver(session) { $0.driver.drain(&$1) }
            endIfIdle(session)
        }
    }

    /// Closes every session (reset) and forgets the listeners (whose descriptors the host owns).
    func closeEverything() {
        setAccepting(false)
        for session in sessions.values {
            finish(session, mode: .reset)
            if !session.ended { endSession(session) }
        }
        closeParkedSockets()
        listeners.removeAll()
    }

    // MARK: timers

    func expireTimers() {
        guard !wheel.isEmpty else { return }
        wheel.expire(upTo: now, into: &dueTimers)
        guard !dueTimers.isEmpty else { return }
        let due = dueTimers
        dueTimers.removeAll(keepingCapacity: true)
        for entry in due {
            // A stale entry: the session is gone, or armed an earlier deadline since.
            guard let session = sessions[entry.owner], session.armed == entry.deadline else { continue }
            session.armed = nil
            guard let deadline = session.deadline else { continue }
            if deadline > now {
                // Moved later since it was armed: re-insert once (the lazy part).
                session.armed = deadline
                wheel.schedule(session.token, at: deadline)
                continue
            }
            session.deadline = nil
            stats.timersFired += 1
            callDriver(session) { $0.driver.deadlineReached(&$1) }
            endIfIdle(session)
        }
    }

    func armDeadline(_ session: Session, _ deadline: ReactorInstant?) {
        session.deadline = deadline
        guard let deadline else { return }
        if let armed = session.armed, armed <= deadline { return }
        session.armed = deadline
        wheel.schedule(session.token, at: deadline)
    }

    // MARK: epoll registration

    func register(_ fd: Int32, token: UInt64, events: UInt32) -> Bool {
        stats.epollControls += 1
        return sentinel_epoll_ctl(epfd, Int32(SENTINEL_EPOLL_CTL_ADD), fd, events, token) == 0
    }

    func modify(_ fd: Int32, token: UInt64, events: UInt32) {
        stats.epollControls += 1
        _ = sentinel_epoll_ctl(epfd, Int32(SENTINEL_EPOLL_CTL_MOD), fd, events, token)
    }

    func unregister(_ fd: Int32) {
        stats.epollControls += 1
        _ = sentinel_epoll_ctl(epfd, Int32(SENTINEL_EPOLL_CTL_DEL), fd, 0, 0)
    }
}

@available(*, unavailable)
extension Reactor: Sendable {}

/// What an epoll token points at.
enum Registration {
    case mailbox
    case listener(Listener)
    case socket(EndpointSocket)
    /// An idle connection outside any session (Reactor+Parking.swift).
    case parked(ParkedSocket)
}
