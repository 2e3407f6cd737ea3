import Logging
import SentinelObservability

/// The master's decisions as a value type: events in, actions out, no I/O.
///
/// It exists so that every rule of the process model (when a generation goes live, when the old
/// one drains, how fast a crashing worker is restarted, when the master may exit and with which
/// status) is testable without processes, clocks or signals. `Master` feeds it events from one
/// loop and performs the actions it returns, in order.
public struct MasterState: Sendable {
    public struct Timing: Sendable {
        /// Delay before the second consecutive respawn of a slot; doubles up to `respawnMax`.
        public var respawnBase: Duration = .milliseconds(100)
        public var respawnMax: Duration = .seconds(30)
        /// A worker that lived this long ends a crash streak: its next crash respawns at once.
        public var stableAfter: Duration = .seconds(10)
        /// Every worker of a new generation must report READY within this time.
        public var readyTimeout: Duration = .seconds(60)
        /// Added to the graceful timeout before stragglers are killed (workers enforce it themselves).
        public var killMargin: Duration = .seconds(5)
        /// How long a new worker waits for the worker it replaces to close its listeners before it
        /// is told to accept anyway (a wedged old worker must not keep a slot unserved).
        public var acceptHandover: Duration = .seconds(1)

        public init() {}
    }

    public enum GenerationState: String, Sendable { case starting, live, draining }

    public struct Worker: Sendable, Equatable {
        public var slot: Int
        public var pid: Int32?
        public var ready = false
        public var startedAt: Duration = .zero
        /// Consecutive short-lived exits (the crash streak).
        public var failures = 0
        public var restarts = 0
        /// Told ACCEPT and not known to have closed its listeners since: it polls its sockets.
        public var accepting = false
        /// The reason the worker gave (FAILED) before exiting: its exit is reported with it.
        public var failure: String?
    }

    public struct Generation: Sendable {
        public var id: Int
        public var state: GenerationState
        public var workers: [Worker]
        public var drainTimeout: Duration
        /// Every slot shares the same sockets (socket activation: one inherited socket per
        /// address), so the accept hand-over is per generation rather than per slot.
        public var sharedSockets = false
        public var pids: [Int32] { workers.compactMap(\.pid) }
    }

    public enum Phase: String, Sendable { case starting, running, stopping }

    public enum Timer: Hashable, Sendable {
        case respawn(generation: Int, slot: Int)
        case readyDeadline(generation: Int)
        case drainDeadline(generation: Int)
        case stopDeadline
        case acceptHandover(generation: Int)
    }

    public enum Event: Sendable {
        /// A validated configuration was bound and handed over: start its generation.
        case prepared(generation: Int, workers: Int, drainTimeout: Duration, sharedSockets: Bool = false)
        case spawned(generation: Int, slot: Int, pid: Int32)
        case spawnFailed(generation: Int, slot: Int, reason: String)
        case message(pid: Int32, WorkerMessage)
        case exited(pid: Int32, ExitStatus)
        case stop(signal: Int32)
        case timer(Timer)
    }

    public enum Action: Sendable, Equatable {
        case spawn(generation: Int, slot: Int)
        case send(pid: Int32, MasterMessage)
        case kill(pid: Int32)
        case schedule(Timer, after: Duration)
        case log(LogEntry)
        /// A systemd notify state ("READY=1\nSTATUS=…").
        case notify(String)
        /// Every worker of `generation` is READY; older generations were told to drain.
        case live(generation: Int)
        /// `generation` failed before going live; whatever served before still serves.
        case failed(generation: Int, reason: String)
        /// Every worker of `generation` is gone: release its resources.
        case retired(generation: Int)
        case exit(code: Int32)
    }

    public let timing: Timing
    public private(set) var generations: [Generation] = []
    public private(set) var phase: Phase = .starting
    /// False once anything during stop was forced (a kill, a forced drain, an unclean exit).
    public private(set) var stopClean = true
    /// The exit action was returned (it is returned, and `stopped` logged, once).
    private var exitDecided = false

    public init(timing: Timing = Timing()) { self.timing = timing }

    /// A generation that is starting (a reload, or the first one, waiting for READY).
    public var pendingGeneration: Int? { generations.first { $0.state == .starting }?.id }
    public var liveGeneration: Int? { generations.last { $0.state == .live }?.id }

    public mutating func handle(_ event: Event, now: Duration) -> [Action] {
        var out: [Action] = []
        switch event {
        case .prepared(let id, let count, let drainTimeout, let shared):
            generations.append(Generation(
                id: id, state: .starting, workers: (0..<count).map { Worker(slot: $0) }, drainTimeout: drainTimeout,
                sharedSockets: shared))
            out.append(log("info", "generation_starting", id, [("workers", .int(count))]))
            out += (0..<count).map { .spawn(generation: id, slot: $0) }
            out.append(.schedule(.readyDeadline(generation: id), after: timing.readyTimeout))
        case .spawned(let g, let slot, let pid):
            guard let gi = index(g), slot < generations[gi].workers.count else { return [.kill(pid: pid)] }
            generations[gi].workers[slot].pid = pid
            generations[gi].workers[slot].ready = false
            generations[gi].workers[slot].failure = nil
            generations[gi].workers[slot].startedAt = now
            out.append(log("info", "worker_spawned", g, [("slot", .int(slot)), ("worker_pid", .int(pid))]))
        case .spawnFailed(let g, let slot, let reason):
            out.append(log("error", "worker_spawn_failed", g, [("slot", .int(slot)), ("reason", "\(reason)")]))
            guard let gi = index(g) else { break }
            if generations[gi].state == .starting {
                out += fail(gi, reason: "cannot start worker \(slot): \(reason)")
            } else if generations[gi].state == .live, phase != .stopping {
                out += scheduleRespawn(gi, slot: slot, now: now, crashed: true)
            }
        case .message(let pid, let message):
            guard let (gi, slot) = find(pid) else { break }
            out += handle(message, gi: gi, slot: slot, pid: pid)
        case .exited(let pid, let status):
            guard let (gi, slot) = find(pid) else { break }
            out += exited(gi: gi, slot: slot, pid: pid, status: status, now: now)
        case .stop(let signal):
            out += stop(signal: signal)
        case .timer(let timer):
            out += fire(timer)
        }
        return out
    }

    // MARK: - Transitions

    private mutating func handle(_ message: WorkerMessage, gi: Int, slot: Int, pid: Int32) -> [Action] {
        let g = generations[gi].id
        switch message {
        case .ready:
            guard !generations[gi].workers[slot].ready else { return [] }
            generations[gi].workers[slot].ready = true
            var out = [log("info", "worker_ready", g, [("slot", .int(slot)), ("worker_pid", .int(pid))])]
            if generations[gi].state == .starting, generations[gi].workers.allSatisfy(\.ready) {
                out += goLive(gi)
            } else if generations[gi].state == .live {
                out += admit()
            }
            return out
        case .listenersClosed:
            generations[gi].workers[slot].accepting = false
            return [log("info", "worker_listeners_closed", g, [("slot", .int(slot)), ("worker_pid", .int(pid))])] + admit()
        case .status, .pong:
            return []
        case .failed(let reason):
            generations[gi].workers[slot].failure = reason
            return [log("error", "worker_failed", g, [("slot", .int(slot)), ("worker_pid", .int(pid)), ("reason", .string(reason))])]
        case .drained(let clean):
            if !clean { stopClean = phase == .stopping ? false : stopClean }
            return [log(clean ? "info" : "warn", "worker_drained", g, [("slot", .int(slot)), ("worker_pid", .int(pid)), ("clean", .bool(clean))])]
        }
    }

    private mutating func goLive(_ gi: Int) -> [Action] {
        let id = generations[gi].id
        generations[gi].state = .live
        var out: [Action] = []
        var previous: [Int] = []
        for oi in generations.indices where oi != gi && generations[oi].state == .live {
            previous.append(generations[oi].id)
            out += drain(oi, reason: "replaced")
        }
        let first = phase == .starting
        if first { phase = .running }
        out.insert(log("info", first ? "started" : "reloaded", id, [
            ("pids", .ints(generations[gi].pids)),
            ("previous_generation", .ints(previous)),
        ]), at: 0)
        out.insert(.notify("READY=1\nSTATUS=generation \(id) live, \(generations[gi].workers.count) workers"), at: 1)
        out.insert(.live(generation: id), at: 2)
        out += admit()
        if generations[gi].workers.contains(where: { !$0.accepting }) {
            out.append(.schedule(.acceptHandover(generation: id), after: timing.acceptHandover))
        }
        return out + retireEmpty()
    }

    // MARK: - Accept hand-over
    //
    // Workers of successive generations inherit the same listening sockets (slot k of every
    // generation shares slot k's socket). Two processes polling one socket race for each
    // connection, and the loser's accept() gets EAGAIN after epoll said "readable", which a
    // debug build of NIO asserts against (`BaseSocketChannel.readable0`: SIGILL). So at most one
    // worker polls a socket at any time: a worker starts with its listeners registered but not
    // reading, the old one closes its listeners on DRAIN and says LISTENERS-CLOSED, and only then
    // (or after `acceptHandover`, for a wedged old worker) the new one is told ACCEPT. The kernel
    // queues connections on the socket meanwhile, so nothing is refused; a reload that fails never
    // accepts at all.

    /// Sends ACCEPT to every ready worker of a live generation whose sockets no other worker polls.
    private mutating func admit(force: Int? = nil) -> [Action] {
        guard phase != .stopping else { return [] }
        var out: [Action] = []
        for gi in generations.indices where generations[gi].state == .live {
            for slot in generations[gi].workers.indices {
                let w = generations[gi].workers[slot]
                guard let pid = w.pid, w.ready, !w.accepting else { continue }
                let holders = holders(of: gi, slot: slot)
                guard holders.isEmpty || force == generations[gi].id else { continue }
                if !holders.isEmpty {
                    out.append(log("warn", "accept_handover_timeout", generations[gi].id, [
                        ("slot", .int(slot)), ("worker_pid", .int(pid)), ("still_accepting", .ints(holders)),
                    ]))
                }
                generations[gi].workers[slot].accepting = true
                out.append(.send(pid: pid, .accept))
                out.append(log("info", "worker_accepting", generations[gi].id, [("slot", .int(slot)), ("worker_pid", .int(pid))]))
            }
        }
        return out
    }

    /// Pids of other generations' workers that still poll a socket slot `slot` of `gi` uses.
    ///
    /// A worker of a generation with N workers serves the sockets of slot `slot` and of every
    /// slot k ≥ N with k mod N = slot (sockets a generation with more workers left behind), so two
    /// workers of generations with N and M workers may share a socket only when their slots are
    /// equal modulo gcd(N, M) (with N = M: the same slot).
    private func holders(of gi: Int, slot: Int) -> [Int32] {
        var pids: [Int32] = []
        for oi in generations.indices where oi != gi {
            let shared = generations[gi].sharedSockets || generations[oi].sharedSockets
            let m = Self.gcd(generations[gi].workers.count, generations[oi].workers.count)
            for w in generations[oi].workers where w.accepting && (shared || w.slot % m == slot % m) {
                if let pid = w.pid { pids.append(pid) }
            }
        }
        return pids
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? max(a, 1) : gcd(b, a % b) }

    /// Tells every worker of a generation to drain and arms its kill deadline.
    private mutating func drain(_ gi: Int, reason: String) -> [Action] {
        guard generations[gi].state != .draining else { return [] }
        generations[gi].state = .draining
        let g = generations[gi]
        var out = [log("info", "generation_draining", g.id, [("reason", "\(reason)"), ("pids", .ints(g.pids))])]
        out += g.pids.map { .send(pid: $0, .drain) }
        out.append(.schedule(.drainDeadline(generation: g.id), after: g.drainTimeout + timing.killMargin))
        return out
    }

    /// A generation that cannot go live: drain what started (it may already be accepting), keep
    /// the previous one. Without a previous one (the first generation), the master stops with 1.
    private mutating func fail(_ gi: Int, reason: String) -> [Action] {
        let id = generations[gi].id
        var out: [Action] = [log("error", "generation_failed", id, [("reason", "\(reason)")])]
        out += drain(gi, reason: "failed")
        out.append(.failed(generation: id, reason: reason))
        if liveGeneration == nil, phase != .stopping {
            phase = .stopping
            stopClean = false
        } else if phase != .stopping {
            out.append(.notify("READY=1\nSTATUS=reload failed, generation \(liveGeneration ?? 0) still live: \(reason)"))
        }
        return out + retireEmpty()
    }

    private mutating func exited(gi: Int, slot: Int, pid: Int32, status: ExitStatus, now: Duration) -> [Action] {
        let g = generations[gi]
        let failure = g.workers[slot].failure
        generations[gi].workers[slot].pid = nil
        generations[gi].workers[slot].ready = false
        generations[gi].workers[slot].accepting = false
        generations[gi].workers[slot].failure = nil
        let expected = g.state == .draining
        if expected, !status.isClean, phase == .stopping { stopClean = false }
        var out = [log(expected ? "info" : "warn", "worker_exited", g.id, [
            ("slot", .int(slot)), ("worker_pid", .int(pid)), ("status", "\(status.description)"), ("expected", .bool(expected)),
        ])]
        switch g.state {
        case .draining: break
        case .starting:
            // The worker's own reason when it gave one (FAILED), else how it ended.
            let why = failure.map { "could not start: \($0)" } ?? "ended with \(status) before READY"
            out += fail(gi, reason: "worker \(slot) (pid \(pid)) \(why)")
        case .live: if phase != .stopping { out += scheduleRespawn(gi, slot: slot, now: now, crashed: true) }
        }
        return out + admit() + retireEmpty()
    }

    /// Respawns at once after a worker that ran for a while; after consecutive short lives the
    /// delay doubles (100 ms, 200 ms, … 30 s): a crash loop is logged and slowed, never a spin.
    private mutating func scheduleRespawn(_ gi: Int, slot: Int, now: Duration, crashed: Bool) -> [Action] {
        var w = generations[gi].workers[slot]
        w.failures = now - w.startedAt >= timing.stableAfter ? 1 : w.failures + 1
        w.restarts += 1
        generations[gi].workers[slot] = w
        let g = generations[gi].id
        guard w.failures > 1 else { return [.spawn(generation: g, slot: slot)] }
        var delay = timing.respawnBase
        for _ in 2..<w.failures where delay < timing.respawnMax { delay = delay * 2 }
        delay = min(delay, timing.respawnMax)
        let ms = delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
        return [
            log(w.failures >= 3 ? "error" : "warn", "worker_respawn_delayed", g, [
                ("slot", .int(slot)), ("consecutive_failures", .int(w.failures)), ("delay_ms", .int(ms)),
            ]),
            .schedule(.respawn(generation: g, slot: slot), after: delay),
        ]
    }

    private mutating func stop(signal: Int32) -> [Action] {
        if phase == .stopping {
            stopClean = false
            let pids = generations.flatMap(\.pids)
            return [log("warn", "fast_stop", nil, [("signal", .int(signal)), ("pids", .ints(pids))])]
                + pids.map { .kill(pid: $0) } + (exitDecided ? [.exit(code: 1)] : exitIfDone())
        }
        phase = .stopping
        var out: [Action] = [
            log("info", "stopping", nil, [("signal", .int(signal))]),
            .notify("STOPPING=1\nSTATUS=stopping"),
        ]
        for gi in generations.indices {
            if generations[gi].state == .starting { out.append(.failed(generation: generations[gi].id, reason: "the master is stopping")) }
            out += drain(gi, reason: "stop")
        }
        let longest = generations.map(\.drainTimeout).max() ?? .zero
        out.append(.schedule(.stopDeadline, after: longest + timing.killMargin))
        return out + retireEmpty()
    }

    private mutating func fire(_ timer: Timer) -> [Action] {
        switch timer {
        case .respawn(let g, let slot):
            guard phase != .stopping, let gi = index(g), generations[gi].state == .live,
                  generations[gi].workers[slot].pid == nil else { return [] }
            return [.spawn(generation: g, slot: slot)]
        case .readyDeadline(let g):
            guard let gi = index(g), generations[gi].state == .starting else { return [] }
            let missing = generations[gi].workers.filter { !$0.ready }.map { String($0.slot) }
            return fail(gi, reason: "workers \(missing.joined(separator: ",")) not READY within \(timing.readyTimeout)")
        case .drainDeadline(let g):
            guard let gi = index(g), generations[gi].state == .draining, !generations[gi].pids.isEmpty else { return [] }
            if phase == .stopping { stopClean = false }
            let pids = generations[gi].pids
            return [log("warn", "drain_deadline", g, [("pids", .ints(pids))])] + pids.map { .kill(pid: $0) }
        case .acceptHandover(let g):
            return admit(force: g)
        case .stopDeadline:
            let pids = generations.flatMap(\.pids)
            guard !pids.isEmpty else { return [] }
            stopClean = false
            return [log("warn", "stop_deadline", nil, [("pids", .ints(pids))])] + pids.map { .kill(pid: $0) }
        }
    }

    /// Removes draining generations without workers; exits when stopping and nothing is left.
    private mutating func retireEmpty() -> [Action] {
        var out: [Action] = []
        while let gi = generations.firstIndex(where: { $0.state == .draining && $0.pids.isEmpty }) {
            let id = generations.remove(at: gi).id
            out.append(log("info", "generation_retired", id, []))
            out.append(.retired(generation: id))
        }
        return out + exitIfDone()
    }

    private mutating func exitIfDone() -> [Action] {
        guard phase == .stopping, !exitDecided, generations.allSatisfy({ $0.pids.isEmpty }) else { return [] }
        exitDecided = true
        return [log(stopClean ? "info" : "warn", "stopped", nil, [("clean", .bool(stopClean))]), .exit(code: stopClean ? 0 : 1)]
    }

    // MARK: - Lookup

    private func index(_ generation: Int) -> Int? { generations.firstIndex { $0.id == generation } }

    private func find(_ pid: Int32) -> (Int, Int)? {
        for gi in generations.indices {
            if let slot = generations[gi].workers.firstIndex(where: { $0.pid == pid }) { return (gi, slot) }
        }
        return nil
    }

    private func log(_ level: String, _ event: String, _ generation: Int?, _ fields: [(String, Logger.MetadataValue)]) -> Action {
        .log(LogEntry(level, event, (generation.map { [("generation", .int($0))] } ?? []) + fields))
    }
}
