/// Where a proxied exchange is in its life, as a value: picking → connecting → sending →
/// awaiting head → streaming → (tunnel) → done, with retries and fallbacks going back to picking.
///
/// `ProxyExchange` asks it before acting and tells it what happened; the answers that used to be
/// re-established by hand with flags ("finished exactly once", "one report per pick", "no
/// response byte went out yet") follow from the stage: `finish()` returns the stage it ended only
/// the first time, `takePickReport()` is true once per pick, and a response head, a started
/// response and a complete response are one progression instead of three flags that could
/// disagree. Tested without sockets in `ExchangeLifecycleTests`.
///
/// A few bytes, no references: kept inline in the exchange and updated in place (no allocation,
/// nothing to copy on a `switch`). The exchange's hot data (buffers, parsers, counters) stays in
/// its own fields.
struct ExchangeLifecycle: Equatable {
    /// One try at one target.
    struct Attempt: Equatable {
        /// The pick's outcome is still owed to the balancer (exactly one report per pick).
        var owesReport = true
        /// The connection came from the idle pool.
        var reused = false
    }

    /// How far the response of the current attempt got.
    enum Response: Equatable {
        case awaitingHead
        /// A final (or 101) head arrived; nothing of it went to the client yet (it may still be
        /// retried, or answered with an error instead).
        case headReceived
        /// The head went to the client: from here on a failure can only cut the response short.
        case streaming
        case complete
    }

    enum Stage: Equatable {
        /// No target yet: the first pick, or a retry waiting out its backoff.
        case picking
        /// A target was picked; its connection is being acquired.
        case connecting(Attempt)
        /// Connected: the request is sent (see `requestComplete`) and the response read.
        case exchanging(Attempt, Response)
        /// After a 101: bytes are relayed both ways.
        case tunnel(Attempt)
        /// Over: the client was answered (or its connection closed) and the request recorded.
        /// Keeps the last attempt (none: an empty one): the access log reports its reuse, and its
        /// pick's outcome is reported right after the end.
        case done(Attempt)
    }

    /// The stage names of the life cycle, for logs and tests.
    enum Name: String, Equatable {
        case picking, connecting, sending, awaitingHead, streaming, tunnel, done
    }

    private(set) var stage: Stage = .picking
    /// The client's whole request was read (a request without a body is complete from the
    /// start). A fact of the client side: it survives retries.
    private(set) var requestComplete: Bool
    /// A stale pooled connection was already replaced once (at most one such replay).
    private(set) var staleReplayed = false
    /// The upstream connection may go back to the pool when the exchange ends. Once false it
    /// stays false for the exchange (as before: a retry does not restore it).
    var upstreamReusable = true
    /// The client connection closes after this exchange's response.
    var closesClient = false

    init(requestComplete: Bool) {
        self.requestComplete = requestComplete
    }

    // MARK: - Questions

    var name: Name {
        switch stage {
        case .picking: return .picking
        case .connecting: return .connecting
        case .exchanging(_, .awaitingHead): return requestComplete ? .awaitingHead : .sending
        case .exchanging(_, .headReceived): return .awaitingHead
        case .exchanging: return .streaming
        case .tunnel: return .tunnel
        case .done: return .done
        }
    }

    var isDone: Bool {
        if case .done = stage { return true }
        return false
    }

    /// A final (or 101) response head of the current attempt arrived.
    var haveResponseHead: Bool {
        switch stage {
        case .exchanging(_, let r): return r != .awaitingHead
        case .tunnel: return true
        default: return false
        }
    }

    /// Some of the response went to the client: it can no longer be retried or answered with an
    /// error, only cut short.
    var responseStarted: Bool { Self.responseStarted(stage) }

    static func responseStarted(_ stage: Stage) -> Bool {
        switch stage {
        case .exchanging(_, .streaming), .exchanging(_, .complete), .tunnel: return true
        default: return false
        }
    }

    var responseComplete: Bool {
        if case .exchanging(_, .complete) = stage { return true }
        return false
    }

    var isTunnel: Bool {
        if case .tunnel = stage { return true }
        return false
    }

    /// The current attempt's connection came from the pool.
    var reused: Bool {
        switch stage {
        case .connecting(let a), .exchanging(let a, _), .tunnel(let a), .done(let a): return a.reused
        case .picking: return false
        }
    }

    // MARK: - Transitions

    /// The attempt's connection, when one carries it.
    var attempt: Attempt? {
        switch stage {
        case .connecting(let a), .exchanging(let a, _), .tunnel(let a): return a
        case .picking, .done: return nil
        }
    }

    /// A target was picked: its connection is acquired next.
    mutating func picked() {
        guard !isDone else { return }
        stage = .connecting(Attempt())
    }

    /// The attempt's connection is ready; the request head goes out.
    mutating func connected(reused: Bool) {
        guard case .connecting(var attempt) = stage else { return }
        attempt.reused = reused
        stage = .exchanging(attempt, .awaitingHead)
    }

    /// The last byte of the request body was read from the client.
    mutating func requestCompleted() {
        requestComplete = true
    }

    /// A final (or 101) response head arrived for the current attempt.
    mutating func responseHeadReceived() {
        guard case .exchanging(let attempt, .awaitingHead) = stage else { return }
        stage = .exchanging(attempt, .headReceived)
    }

    /// The response head was written to the client (`complete`: and with it the whole response).
    mutating func responseStarted(complete: Bool) {
        guard case .exchanging(let attempt, .headReceived) = stage else { return }
        stage = .exchanging(attempt, complete ? .complete : .streaming)
    }

    /// The response's last byte went to the client.
    mutating func responseCompleted() {
        guard case .exchanging(let attempt, let r) = stage, r == .streaming || r == .headReceived else { return }
        stage = .exchanging(attempt, .complete)
    }

    /// A 101 was relayed: the exchange becomes a tunnel (the request side has nothing more to
    /// frame).
    mutating func becameTunnel() {
        guard case .exchanging(let attempt, _) = stage else { return }
        requestComplete = true
        stage = .tunnel(attempt)
    }

    /// Returns true once per pick: the caller reports the pick's outcome to the balancer.
    mutating func takePickReport() -> Bool {
        switch stage {
        case .connecting(var a) where a.owesReport:
            a.owesReport = false
            stage = .connecting(a)
        case .exchanging(var a, let r) where a.owesReport:
            a.owesReport = false
            stage = .exchanging(a, r)
        case .tunnel(var a) where a.owesReport:
            a.owesReport = false
            stage = .tunnel(a)
        case .done(var a) where a.owesReport:
            a.owesReport = false
            stage = .done(a)
        default:
            return false
        }
        return true
    }

    /// The attempt failed in a way that may be retried, and nothing of its response reached the
    /// client: back to picking (for another target, or another upstream on fallback).
    mutating func retry() {
        guard !isDone, !responseStarted else { return }
        stage = .picking
    }

    /// A pooled connection turned out closed before any response, with nothing of the request
    /// lost: returns true (once per exchange) when it is replaced by a fresh connection to the
    /// same target, which keeps the pick (and its report) of the attempt.
    mutating func replayStale(requestBytesSent: Int) -> Bool {
        guard !staleReplayed, requestBytesSent == 0, case .exchanging(var attempt, .awaitingHead) = stage, attempt.reused else {
            return false
        }
        staleReplayed = true
        attempt.reused = false
        stage = .connecting(attempt)
        return true
    }

    /// Ends the exchange. Returns the stage it ended in the first time, nil ever after: the one
    /// guard that makes "finished exactly once" structural.
    mutating func finish() -> Stage? {
        guard !isDone else { return nil }
        let ended = stage
        switch stage {
        case .connecting(let a), .exchanging(let a, _), .tunnel(let a): stage = .done(a)
        case .picking, .done: stage = .done(Attempt(owesReport: false, reused: false))
        }
        return ended
    }

    /// Ends an exchange whose response is complete. Returns nil while the response is not
    /// complete (or when already done). A request whose body the upstream did not wait for
    /// cannot be told apart from the client's next request: neither connection is kept then.
    mutating func finishComplete() -> Stage? {
        guard responseComplete else { return nil }
        if !requestComplete {
            upstreamReusable = false
            closesClient = true
        }
        return finish()
    }
}
