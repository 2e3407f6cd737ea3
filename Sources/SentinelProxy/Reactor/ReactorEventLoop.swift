import Dispatch
import NIOCore
import SentinelReactor
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A reactor's thread seen as a SwiftNIO `EventLoop`: what lets the data plane's per-loop
/// services that are written against `EventLoop` (the access-log buffer's flush timer, the
/// instance view's hop back to the connection, `NIOLoopBound` confinement checks, a pool's
/// sweep timer) run unchanged on a reactor. No channel runs on it: sockets are the reactor's.
///
/// On the loop's thread, `execute` queues the task after the current batch of events and
/// `scheduleTask` uses the reactor's timed host tasks (millisecond resolution, rounded up); from
/// another thread both go through the reactor's mailbox (a lock and an eventfd write), which is
/// the control side's rate, never the request path's.
final class ReactorEventLoop: EventLoop, @unchecked Sendable {
    let mailbox: ReactorMailbox
    /// The loop's thread (0 until `attach`).
    private let thread = Atomic<UInt>(0)
    private let nextID = Atomic<UInt64>(1)
    /// Set once, on the loop's thread, before anything else uses it; read only there.
    nonisolated(unsafe) private var reactor: Reactor?

    init(mailbox: ReactorMailbox) {
        self.mailbox = mailbox
    }

    /// Binds this loop to `reactor`, on the reactor's thread (its `setup`).
    func attach(_ reactor: Reactor) {
        self.reactor = reactor
        thread.store(UInt(pthread_self()), ordering: .releasing)
    }

    var inEventLoop: Bool { thread.load(ordering: .acquiring) == UInt(pthread_self()) }

    func execute(_ task: @escaping @Sendable () -> Void) {
        if inEventLoop, let reactor {
            reactor.runSoon(task)
        } else {
            mailbox.send(.run({ _ in task() }))
        }
    }

    /// Runs `task` on the loop (at once when already there).
    private func onLoop(_ body: @escaping @Sendable (Reactor) -> Void) {
        if inEventLoop, let reactor {
            body(reactor)
        } else {
            mailbox.send(.run(body))
        }
    }

    var now: NIODeadline { .now() }

    @discardableResult
    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = makePromise()
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let ns = deadline.uptimeNanoseconds
        let due = ReactorInstant(milliseconds: ns / 1_000_000 + (ns % 1_000_000 == 0 ? 0 : 1))
        onLoop { reactor in
            reactor.schedule(id: id, at: due) {
                do { promise.succeed(try task()) } catch { promise.fail(error) }
            }
        }
        return Scheduled(promise: promise) { [self] in
            onLoop { reactor in
                if reactor.cancelTask(id) { promise.fail(EventLoopError.cancelled) }
            }
        }
    }

    @discardableResult
    func scheduleTask<T>(in amount: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + amount, task)
    }

    func next() -> any EventLoop { self }
    func any() -> any EventLoop { self }
    func makeIterator() -> EventLoopIterator { EventLoopIterator([self]) }

    /// The reactor's life is its host's (`ReactorDataPlane`): nothing to shut down here.
    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        queue.async { callback(nil) }
    }

    #if compiler(>=6.0)
    func _preconditionSafeToWait(file: StaticString, line: UInt) {
        precondition(!inEventLoop, "waiting on the reactor's own thread would deadlock it", file: file, line: line)
    }
    #endif
}
