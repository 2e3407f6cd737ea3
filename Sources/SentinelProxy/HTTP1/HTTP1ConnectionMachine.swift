/// What the connection machine needs to know of the exchange in flight to decide whether reading
/// more client bytes is bounded. `ProxyExchange` is the data plane's one implementation; tests
/// use a stand-in.
protocol HTTP1ConnectionExchange: AnyObject {
    /// The whole request (head and body) was read from the client.
    var requestIsComplete: Bool { get }
    /// The body is not complete and the upstream can take more of it now.
    var wantsRequestBytes: Bool { get }
    /// The upstream connection accepts writes (a tunnel reads from the client only then).
    var upstreamWritable: Bool { get }
}

/// The HTTP/1 connection's phase, deadlines and drain as a value: inputs in, actions out, no I/O.
///
/// `ProxyConnectionHandler` feeds it what happens on the connection (bytes arrived, a head was
/// parsed, an exchange or local answer finished, the timer fired, a drain started) with the clock
/// reading it already has, and performs the `Actions` it returns (arm the connection's one timer,
/// go back to reading heads, close, answer 408). Every rule about when a connection times out,
/// stays open or closes is here, testable with a manual clock and without sockets
/// (`HTTP1ConnectionMachineTests`).
///
/// Each deadline belongs to the phase it bounds, so a head deadline during a proxied exchange, or
/// an exchange deadline while idle, cannot exist. Generic over the exchange and the local reply so
/// the tests drive it with stand-ins; the handler's concrete instance is specialized (one module).
///
/// The returned `Actions` is a small value (a deadline and a step whose large payload is boxed):
/// no input allocates, and the hot-path inputs (bytes arrived, head parsed, exchange finished)
/// return without touching the phase's payload beyond the retain a `switch` takes anyway.
struct HTTP1ConnectionMachine<Exchange: HTTP1ConnectionExchange, Reply> {
    struct Timing: Equatable {
        /// The whole request head must arrive within this (counted from the connection's start or
        /// the next request's first byte), and a locally answered request's whole body too.
        var requestTimeoutNanos: UInt64 = 60_000_000_000
        /// An idle keep-alive connection closes after this.
        var keepaliveNanos: UInt64 = 75_000_000_000
        /// How long an idle connection stays open once a drain starts: a client may have sent its
        /// next request already, and closing under it would fail that request.
        var quiesceGraceNanos: UInt64 = 250_000_000
        /// The listener's minimum body rate: nanoseconds per byte (0: no minimum), after a grace.
        var bodyNanosPerByte: UInt64 = 0
        var bodyGraceNanos: UInt64 = 0
        /// Requests served on one connection before it closes (nil: no limit).
        var maxRequests: Int?
        /// Bytes buffered while waiting for a head beyond which reading pauses (the parser fails a
        /// head larger than its limits long before).
        var maxBufferedHead = 64 * 1024
        /// Bytes buffered beyond which reading pauses while a body or tunnel is forwarded.
        var maxBufferedForwarding = 64 * 1024
    }

    /// How a connection waits for its next request head.
    enum HeadWait: Equatable {
        /// Between requests: nothing of the next one arrived yet. At `until` the connection closes
        /// (or, with bytes of a head waiting, answers 408).
        case idle(until: UInt64)
        /// Receiving a head: the whole head must have arrived by `by` (slowloris protection: a
        /// total, not per read).
        case receiving(by: UInt64)

        var deadline: UInt64 {
            switch self {
            case .idle(let t), .receiving(let t): return t
            }
        }
    }

    /// The clock of a locally answered request's body, read and discarded before the answer.
    struct BodyClock: Equatable {
        /// When Sentinel started reading the body, and when all of it must have arrived.
        var start: UInt64
        var whole: UInt64
        /// The deadline now in force: `whole`, or earlier where the body so far is below the
        /// listener's minimum rate. 0: none (the body is complete).
        var due: UInt64

        static var none: BodyClock { BodyClock(start: 0, whole: 0, due: 0) }
    }

    enum Phase {
        case awaitingHead(HeadWait)
        /// A local answer waits for the request body to be read and discarded. Boxed
        /// (`indirect`): the reply is large, and every `switch` on the phase would copy it.
        indirect case discardingBody(Reply, BodyClock)
        /// An exchange is in flight; `deadline` is its own (0: none), served by the connection's
        /// timer.
        case proxying(Exchange, deadline: UInt64)
        /// The exchange switched protocols: bytes are relayed both ways.
        case tunneling(Exchange, deadline: UInt64)
        /// A builtin answer waits for the instance-wide view; nothing is read meanwhile.
        case awaitingInstance
        /// A filter's verdict is awaited (phase 3 said "wait"): the head stays buffered, nothing
        /// is read, and at `deadline` (the request timeout) the wait ends with 504.
        case awaitingFilter(deadline: UInt64)
        case closed
    }

    enum Step {
        case none
        /// Back to reading heads: reset the parser and work through any bytes already buffered.
        case nextRequest
        /// Close now (an idle connection timed out, or a drain's grace ended).
        case close
        /// Close once what was written is flushed (the answer said `Connection: close`).
        case closeAfterWrites
        /// The head did not arrive in time: answer 408 and close.
        case headTimedOut
        /// A locally answered request's body did not arrive in time: answer 408 and close.
        /// Boxed: the reply is large and this step is rare.
        indirect case bodyTimedOut(Reply)
        /// The exchange's deadline passed: let it check its timeouts (it re-arms through
        /// `setExchangeDeadline` or finishes).
        case exchangeTimer(Exchange)
        /// A filter's verdict did not come within the request timeout: cancel the wait, answer
        /// 504 and close.
        case filterTimedOut
    }

    struct Actions {
        /// Arm the connection's timer to fire at this monotonic time, replacing the armed one
        /// (nil: leave the timer as it is).
        var armTimer: UInt64?
        var step: Step

        static var none: Actions { Actions(armTimer: nil, step: .none) }
    }

    var timing: Timing
    private(set) var phase: Phase = .awaitingHead(.receiving(by: 0))
    /// A drain started: no request after the current one, idle connections close after a grace.
    private(set) var quiescing = false
    /// Requests started on this connection.
    private(set) var requestCount = 0
    /// When the armed timer fires (0: none armed). The timer is re-armed only when it would fire
    /// too late: deadlines only move later on a healthy connection, so a busy keep-alive
    /// connection schedules about one timer per timeout period, not one per request; an early
    /// firing re-checks and re-arms.
    private(set) var timerAt: UInt64 = 0
    /// The client side asked for a read the current phase could not absorb.
    private(set) var pendingRead = false

    init(timing: Timing) { self.timing = timing }

    // MARK: - Inputs

    /// The connection is open: its first head must arrive within the request timeout.
    mutating func opened(now: UInt64) -> Actions {
        let deadline = now &+ timing.requestTimeoutNanos
        phase = .awaitingHead(.receiving(by: deadline))
        return Actions(armTimer: ensureTimer(by: deadline), step: .none)
    }

    /// Client bytes arrived. Returns whether they are the first of a request after an idle
    /// period (their arrival is then that request's start), and the head deadline they start.
    mutating func bytesArrived(now: UInt64) -> (firstByte: Bool, actions: Actions) {
        guard case .awaitingHead(.idle) = phase else { return (false, .none) }
        let deadline = now &+ timing.requestTimeoutNanos
        phase = .awaitingHead(.receiving(by: deadline))
        return (true, Actions(armTimer: ensureTimer(by: deadline), step: .none))
    }

    /// A complete head was parsed (or failed to parse): a request starts. Returns whether the
    /// connection may stay open after it (the client asked for it, no drain, under the
    /// per-connection request limit). The head's deadline stays until the next phase is set.
    mutating func headParsed(keepAliveRequested: Bool) -> Bool {
        requestCount += 1
        return keepAliveRequested && !quiescing && (timing.maxRequests.map { requestCount < $0 } ?? true)
    }

    /// The request is answered locally once its body is read and discarded. `bodyComplete`: the
    /// body is already here (or there is none); otherwise its whole-body and minimum-rate
    /// deadline starts now.
    mutating func discardBody(_ reply: Reply, bodyComplete: Bool, now: UInt64) -> Actions {
        guard !bodyComplete else {
            phase = .discardingBody(reply, .none)
            return .none
        }
        var clock = BodyClock(start: now, whole: now &+ timing.requestTimeoutNanos, due: 0)
        clock.due = due(clock, received: 0)
        phase = .discardingBody(reply, clock)
        return Actions(armTimer: ensureTimer(by: clock.due), step: .none)
    }

    /// More of a discarded body was read (`received` bytes in all): the minimum-rate deadline
    /// moves later. `reply`: the reply with its body counter advanced.
    mutating func bodyProgress(_ reply: Reply, received: UInt64) -> Actions {
        guard case .discardingBody(_, var clock) = phase else { return .none }
        var arm: UInt64?
        if clock.due != 0, timing.bodyNanosPerByte != 0 {
            clock.due = due(clock, received: received)
            arm = ensureTimer(by: clock.due)
        }
        phase = .discardingBody(reply, clock)
        return Actions(armTimer: arm, step: .none)
    }

    /// A builtin answer waits for the instance-wide view.
    mutating func awaitInstance() {
        phase = .awaitingInstance
    }

    /// Phase 3 waits for a filter's verdict. The wait is bounded by the request timeout counted
    /// from the request's start (the head's deadline, which is still in force), or from `now`
    /// when there is none.
    mutating func awaitFilter(now: UInt64) -> Actions {
        let deadline: UInt64
        if case .awaitingHead(.receiving(let by)) = phase, by != 0 { deadline = by } else { deadline = now &+ timing.requestTimeoutNanos }
        phase = .awaitingFilter(deadline: deadline)
        return Actions(armTimer: ensureTimer(by: deadline), step: .none)
    }

    /// The request is handed to `exchange`. Its deadlines are the exchange's own from now on.
    mutating func proxy(_ exchange: Exchange) {
        phase = .proxying(exchange, deadline: 0)
    }

    /// The exchange switched protocols (101): a tunnel, keeping the exchange's deadline.
    mutating func tunnel(_ exchange: Exchange) {
        let deadline: UInt64
        if case .proxying(_, let d) = phase { deadline = d } else { deadline = 0 }
        phase = .tunneling(exchange, deadline: deadline)
    }

    /// Sets the deadline of `exchange`, the one in flight (0: none). Ignored when `exchange` is
    /// no longer the connection's (an old exchange's late call must not disarm the next one).
    mutating func setExchangeDeadline(_ deadline: UInt64, of exchange: Exchange) -> Actions {
        switch phase {
        case .proxying(let current, _) where current === exchange:
            phase = .proxying(current, deadline: deadline)
        case .tunneling(let current, _) where current === exchange:
            phase = .tunneling(current, deadline: deadline)
        default:
            return .none
        }
        guard deadline != 0 else { return .none }
        return Actions(armTimer: ensureTimer(by: deadline), step: .none)
    }

    /// The request was answered (by an exchange or locally). `keepAlive`: the answer keeps the
    /// connection; a drain overrides it.
    mutating func requestFinished(keepAlive: Bool, now: UInt64) -> Actions {
        guard keepAlive, !quiescing else {
            phase = .closed
            return Actions(armTimer: nil, step: .closeAfterWrites)
        }
        let deadline = now &+ timing.keepaliveNanos
        phase = .awaitingHead(.idle(until: deadline))
        return Actions(armTimer: ensureTimer(by: deadline), step: .nextRequest)
    }

    /// A drain started (reload or shutdown): finish the request in flight, answer any further
    /// one with `Connection: close`, and close an idle connection after a short grace (a request
    /// arriving in it is still answered). `buffered`: client bytes wait unparsed.
    mutating func quiesce(now: UInt64, buffered: Bool) -> Actions {
        quiescing = true
        guard case .awaitingHead = phase, !buffered else { return .none }
        let deadline = now &+ timing.quiesceGraceNanos
        phase = .awaitingHead(.idle(until: deadline))
        return Actions(armTimer: ensureTimer(by: deadline), step: .none)
    }

    /// The connection's timer fired at `now`. `buffered`: client bytes wait unparsed.
    mutating func timerFired(now: UInt64, buffered: Bool) -> Actions {
        timerAt = 0
        switch phase {
        case .awaitingHead(let wait):
            guard now >= wait.deadline else { return Actions(armTimer: ensureTimer(by: wait.deadline), step: .none) }
            phase = .closed
            if case .idle = wait, !buffered { return Actions(armTimer: nil, step: .close) }
            return Actions(armTimer: nil, step: .headTimedOut)
        case .discardingBody(let reply, let clock):
            guard clock.due != 0 else { return .none }
            guard now >= clock.due else { return Actions(armTimer: ensureTimer(by: clock.due), step: .none) }
            phase = .closed
            return Actions(armTimer: nil, step: .bodyTimedOut(reply))
        case .proxying(let exchange, let deadline), .tunneling(let exchange, let deadline):
            guard deadline != 0 else { return .none }
            guard now >= deadline else { return Actions(armTimer: ensureTimer(by: deadline), step: .none) }
            if case .proxying = phase { phase = .proxying(exchange, deadline: 0) } else { phase = .tunneling(exchange, deadline: 0) }
            return Actions(armTimer: nil, step: .exchangeTimer(exchange))
        case .awaitingFilter(let deadline):
            guard now >= deadline else { return Actions(armTimer: ensureTimer(by: deadline), step: .none) }
            phase = .closed
            return Actions(armTimer: nil, step: .filterTimedOut)
        case .awaitingInstance, .closed:
            return .none
        }
    }

    /// The connection is closed (by Sentinel, or the client went away). An armed timer may still
    /// fire: it finds the connection closed and does nothing.
    mutating func closed() {
        phase = .closed
    }

    /// The caller cancelled the armed timer.
    mutating func timerCancelled() {
        timerAt = 0
    }

    // MARK: - Reading

    /// The client side asks for a read. Returns whether to read now; otherwise the read is held
    /// until `resumeReading` finds the phase able to absorb bytes again.
    mutating func readRequested(buffered: Int) -> Bool {
        if canAbsorbInput(buffered: buffered) { return true }
        pendingRead = true
        return false
    }

    /// Returns whether a held read should be issued now.
    mutating func resumeReading(buffered: Int) -> Bool {
        guard pendingRead, canAbsorbInput(buffered: buffered) else { return false }
        pendingRead = false
        return true
    }

    /// Whether reading more client bytes now is bounded.
    func canAbsorbInput(buffered: Int) -> Bool {
        switch phase {
        case .awaitingHead:
            return buffered <= timing.maxBufferedHead
        case .discardingBody:
            return true
        case .proxying(let exchange, _):
            // Once the request is complete, further bytes are pipelined requests: keep reading
            // (bounded), so the socket's read interest is never toggled per request.
            return buffered < timing.maxBufferedForwarding && (exchange.requestIsComplete || exchange.wantsRequestBytes)
        case .tunneling(let exchange, _):
            return exchange.upstreamWritable && buffered < timing.maxBufferedForwarding
        case .awaitingInstance, .awaitingFilter, .closed:
            return false
        }
    }

    // MARK: - Queries

    /// The exchange in flight (proxying or tunnelling).
    var exchange: Exchange? {
        switch phase {
        case .proxying(let e, _), .tunneling(let e, _): return e
        default: return nil
        }
    }

    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    var isTunneling: Bool {
        if case .tunneling = phase { return true }
        return false
    }

    var isAwaitingHead: Bool {
        if case .awaitingHead = phase { return true }
        return false
    }

    /// Between requests, before any byte of the next one.
    var isIdle: Bool {
        if case .awaitingHead(.idle) = phase { return true }
        return false
    }

    var isAwaitingInstance: Bool {
        if case .awaitingInstance = phase { return true }
        return false
    }

    var isAwaitingFilter: Bool {
        if case .awaitingFilter = phase { return true }
        return false
    }

    // MARK: - Deadlines

    /// Returns the time to arm the timer at when it would otherwise fire after `deadline`.
    private mutating func ensureTimer(by deadline: UInt64) -> UInt64? {
        if timerAt != 0, timerAt <= deadline { return nil }
        timerAt = deadline
        return deadline
    }

    /// A discarded body's deadline with `received` bytes: the whole-body deadline, or earlier
    /// where the bytes so far are too few for the listener's minimum rate (the same rule as for
    /// proxied bodies).
    private func due(_ clock: BodyClock, received: UInt64) -> UInt64 {
        guard timing.bodyNanosPerByte != 0 else { return clock.whole }
        let (perBytes, overflow) = received.multipliedReportingOverflow(by: timing.bodyNanosPerByte)
        return overflow ? clock.whole : min(clock.whole, clock.start &+ timing.bodyGraceNanos &+ perBytes)
    }
}
