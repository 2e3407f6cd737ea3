internal import CSentinelLinux
internal import Glibc
import Synchronization

/// A control message for one reactor, sent from any thread (the NIO control side, the worker's
/// control-socket reader, tests). The reactor handles accept switching, drain and stop itself;
/// the payload cases go to the host's `Reactor.onMessage` (the reactor does not know the data
/// plane's snapshot, health or ticket-key types).
public enum ReactorMessage: Sendable {
    /// Start or stop accepting on every listener (a new generation starts with accepting off).
    case accepting(Bool)
    /// Stop accepting, tell every session to finish (its driver's `drain`), and leave the loop
    /// once no session is left or `graceMilliseconds` have passed (then the rest is closed).
    case drain(graceMilliseconds: UInt64)
    /// Close everything now and leave the loop.
    case stop
    /// A new configuration snapshot for sessions accepted from now on.
    case reload(any Sendable)
    /// Health verdicts relayed by the master.
    case healthVerdicts(any Sendable)
    /// Session-ticket keys (prev/current/next) from the master.
    case ticketKeys(any Sendable)
    /// Runs on the reactor thread (tests, and hosts that need a one-off look at loop state).
    case run(@Sendable (Reactor) -> Void)
}

/// The only shared state of a reactor: a bounded multi-producer queue of `ReactorMessage`s
/// and an eventfd that wakes the loop. The lock is taken by senders and once per wake by the
/// loop, never per request. Bounded (`capacity`): a sender that finds it full gets `false`
/// and decides (control messages are rare; a full queue means the loop is stuck).
public final class ReactorMailbox: Sendable {
    private let queue: Mutex<[ReactorMessage]>
    public let capacity: Int
    let eventFD: Int32

    init(capacity: Int) throws(ReactorError) {
        let fd = sentinel_eventfd()
        guard fd >= 0 else { throw .last(.eventfd) }
        eventFD = fd
        self.capacity = capacity
        queue = Mutex([])
    }

    deinit { Glibc.close(eventFD) }

    /// Queues `message` and wakes the reactor. False when the queue is full.
    @discardableResult
    public func send(_ message: ReactorMessage) -> Bool {
        let accepted = queue.withLock { q -> Bool in
            guard q.count < capacity else { return false }
            q.append(message)
            return true
        }
        if accepted {
            var one: UInt64 = 1
            // EAGAIN only when the counter is at its maximum: the loop is awake anyway.
            _ = Glibc.write(eventFD, &one, 8)
        }
        return accepted
    }

    /// Takes every queued message (loop thread) after resetting the eventfd.
    func takeAll(into out: inout [ReactorMessage]) {
        var counter: UInt64 = 0
        _ = Glibc.read(eventFD, &counter, 8)
        queue.withLock { q in
            out.append(contentsOf: q)
            q.removeAll(keepingCapacity: true)
        }
    }
}
