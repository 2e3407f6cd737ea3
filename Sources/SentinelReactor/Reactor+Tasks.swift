/// Work the host runs on the loop besides sessions: closures to run after the current batch
/// (`runSoon`), closures due at an instant (`schedule`), and a driver call outside any socket
/// event (`wake`). This is what lets a host put its per-loop services (an access-log flush
/// timer, a pool sweep, an answer that arrived from another thread) on the reactor's thread,
/// for instance behind an `EventLoop` of its own.
///
/// Timed tasks are few (a handful per loop, not per connection: per-connection deadlines are
/// the sessions' own, in the wheel), so they are kept in an array ordered by deadline.
struct HostTasks {
    struct Task {
        var id: UInt64
        var due: ReactorInstant
        var body: () -> Void
    }

    /// Ordered by `due` (ties: insertion order).
    private(set) var pending: [Task] = []

    var earliest: ReactorInstant? { pending.first?.due }
    var count: Int { pending.count }

    mutating func insert(_ task: Task) {
        var i = pending.count
        while i > 0, pending[i - 1].due > task.due { i -= 1 }
        pending.insert(task, at: i)
    }

    /// Removes the task `id`; false when it ran or was cancelled already.
    @discardableResult
    mutating func cancel(_ id: UInt64) -> Bool {
        guard let i = pending.firstIndex(where: { $0.id == id }) else { return false }
        pending.remove(at: i)
        return true
    }

    /// Takes the tasks due at `now`, in order.
    mutating func takeDue(_ now: ReactorInstant, into out: inout [Task]) {
        var n = 0
        while n < pending.count, pending[n].due <= now { n += 1 }
        guard n > 0 else { return }
        out.append(contentsOf: pending[0..<n])
        pending.removeFirst(n)
    }
}

extension Reactor {
    /// Runs `body` on this loop once the current batch of events is handled (loop thread only).
    public func runSoon(_ body: @escaping () -> Void) {
        soon.append(body)
    }

    /// Runs `body` on this loop at or after `due` (loop thread only). `id` is the caller's (it
    /// can name a task it schedules from another thread before the loop saw it); `cancelTask`
    /// with the same id drops it.
    public func schedule(id: UInt64, at due: ReactorInstant, _ body: @escaping () -> Void) {
        tasks.insert(HostTasks.Task(id: id, due: due, body: body))
    }

    /// Drops a scheduled task; false when it ran already (or never existed).
    @discardableResult
    public func cancelTask(_ id: UInt64) -> Bool { tasks.cancel(id) }

    /// Timed tasks waiting (tests).
    public var scheduledTaskCount: Int { tasks.count }

    /// Calls the driver of session `token` (`DriverIO.session`) with `woken`, and performs what
    /// it asks: how a driver acts on something that did not come from its sockets (an answer
    /// computed on another thread and handed over with `runSoon`). False when the session ended.
    @discardableResult
    public func wake(session token: UInt64) -> Bool {
        guard let session = sessions[token], !session.ended else { return false }
        callDriver(session) { $0.driver.woken(&$1) }
        endIfIdle(session)
        return true
    }

    func runHostTasks() {
        if !soon.isEmpty {
            // Tasks queued by these tasks run in the next iteration (epoll is polled with 0).
            let batch = soon
            soon.removeAll(keepingCapacity: true)
            for body in batch { body() }
        }
        guard let first = tasks.earliest, first <= now else { return }
        var due: [HostTasks.Task] = []
        tasks.takeDue(now, into: &due)
        for task in due { task.body() }
    }
}
