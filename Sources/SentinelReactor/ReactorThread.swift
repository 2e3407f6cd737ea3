internal import Glibc
import Synchronization

/// A reactor running on its own thread, as other threads see it: a mailbox to send to and a
/// thread to join. Sendable; the reactor itself never leaves its thread.
public final class ReactorHandle: Sendable {
    public let mailbox: ReactorMailbox
    private let thread: Mutex<pthread_t?>
    private let outcome: Mutex<ReactorError?>
    private let lastStats: Mutex<ReactorStats?>

    /// Creates a reactor, runs `setup` on its new thread (add listeners, set `onMessage`), then
    /// the loop until `stop` or the end of a drain.
    public static func start(
        _ configuration: ReactorConfiguration = ReactorConfiguration(),
        setup: @escaping @Sendable (Reactor) -> Void
    ) throws(ReactorError) -> ReactorHandle {
        let reactor = try Reactor(configuration: configuration)
        let handle = ReactorHandle(mailbox: reactor.mailbox)
        // The reactor moves to the new thread before anything else touches it.
        let box = Unmanaged.passRetained(ThreadStart(reactor: reactor, setup: setup, handle: handle))
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { raw in
            let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
            start.run()
            return nil
        }, box.toOpaque())
        guard r == 0 else {
            box.release()
            throw ReactorError(.threadStart, errno: r)
        }
        handle.thread.withLock { $0 = tid }
        return handle
    }

    private init(mailbox: ReactorMailbox) {
        self.mailbox = mailbox
        thread = Mutex(nil)
        outcome = Mutex(nil)
        lastStats = Mutex(nil)
    }

    /// The loop's counters as they were when it ended (nil while it runs).
    public var finalStats: ReactorStats? { lastStats.withLock { $0 } }

    @discardableResult
    public func send(_ message: ReactorMessage) -> Bool { mailbox.send(message) }

    /// Waits for the loop to end; returns the error that ended it, if any.
    @discardableResult
    public func join() -> ReactorError? {
        let tid = thread.withLock { t -> pthread_t? in
            defer { t = nil }
            return t
        }
        if let tid { pthread_join(tid, nil) }
        return outcome.withLock { $0 }
    }

    /// Stops the loop and waits for it.
    public func stop() {
        send(.stop)
        join()
    }

    fileprivate func finished(_ error: ReactorError?, stats: ReactorStats) {
        outcome.withLock { $0 = error }
        lastStats.withLock { $0 = stats }
    }
}

/// Carries a reactor to its thread.
private final class ThreadStart: @unchecked Sendable {
    let reactor: Reactor
    let setup: @Sendable (Reactor) -> Void
    let handle: ReactorHandle

    init(reactor: Reactor, setup: @escaping @Sendable (Reactor) -> Void, handle: ReactorHandle) {
        self.reactor = reactor
        self.setup = setup
        self.handle = handle
    }

    func run() {
        setup(reactor)
        do {
            try reactor.run()
            handle.finished(nil, stats: reactor.stats)
        } catch {
            handle.finished(error, stats: reactor.stats)
        }
    }
}
