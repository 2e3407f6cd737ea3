import NIOCore
import Synchronization

/// The bound on TLS handshakes in flight in this process (`limits { max-tls-handshakes }`).
///
/// It exists because a handshake is the expensive, attacker-paced part of a TLS connection:
/// an OpenSSL object, up to `TLSLimits.maxHandshakeBytes` of buffered ClientHello, and a
/// signature plus a key exchange of CPU. A connection over the bound is not refused: it waits
/// *unread* (its bytes stay in the kernel's socket buffer) until a handshake ends, first come
/// first served, under the same handshake deadline as any other. Legitimate bursts are
/// delayed, not failed; a flood cannot make the process hold more than the bound in memory.
///
/// Thread-safe (one small lock); the grant callback hops to the waiter's own event loop.
final class HandshakeGate: Sendable {
    private struct State {
        var inFlight = 0
        var nextID: UInt64 = 0
        var waiters: [UInt64: @Sendable () -> Void] = [:]
        /// Waiter ids in arrival order; ids of cancelled waiters are skipped when popped.
        var order = CircularBuffer<UInt64>()
    }

    private let state = Mutex(State())

    /// Takes a slot at once (nil) or queues `onGrant`, called (on any thread) when a slot is
    /// handed over; the returned id cancels the wait.
    func acquire(limit: Int, onGrant: @escaping @Sendable () -> Void) -> UInt64? {
        state.withLock { s in
            if s.inFlight < limit {
                s.inFlight += 1
                return nil
            }
            s.nextID &+= 1
            s.waiters[s.nextID] = onGrant
            s.order.append(s.nextID)
            return s.nextID
        }
    }

    /// Gives a slot back: to the oldest waiter, if any, else to the pool.
    func release() {
        let next = state.withLock { s -> (@Sendable () -> Void)? in
            while let id = s.order.popFirst() {
                if let w = s.waiters.removeValue(forKey: id) { return w }
            }
            s.inFlight -= 1
            return nil
        }
        next?()
    }

    /// A waiter gave up (its connection closed). False when it was already granted a slot
    /// (the grant is on its way and must be released by the one who receives it).
    @discardableResult
    func cancel(_ id: UInt64) -> Bool {
        state.withLock { s in
            guard s.waiters.removeValue(forKey: id) != nil else { return false }
            // Drop stale ids so connections that come and go while all slots are taken cannot
            // grow the queue beyond twice its live waiters.
            if s.order.count > 2 * s.waiters.count + 64 {
                let live = s.order.filter { s.waiters[$0] != nil }
                s.order = CircularBuffer(live)
            }
            return true
        }
    }

    var inFlight: Int { state.withLock { $0.inFlight } }
    var waiting: Int { state.withLock { $0.waiters.count } }
}

/// One connection's claim on the `HandshakeGate`, as both TLS hosts (`TLSServerHandler` on NIO,
/// `ReactorTLSServer` on the reactor) keep it.
enum HandshakeSlot {
    /// Not asked for yet (before the connection is active).
    case none
    /// Waiting, unread, for a slot (the id cancels the wait).
    case waiting(UInt64)
    case held
    /// Given back (handshake over) or never to be taken (closed).
    case done

    var isWaiting: Bool {
        if case .waiting = self { return true }
        return false
    }

    /// Gives the slot back (handshake over or connection closed), or stops waiting for one.
    mutating func release(_ gate: HandshakeGate?) {
        switch self {
        case .held:
            self = .done
            gate?.release()
        case .waiting(let id):
            self = .done
            if gate?.cancel(id) == false {
                // Granted concurrently: the grant will find the slot `.done` and release it.
            }
        case .none:
            self = .done
        case .done:
            break
        }
    }
}
