import NIOCore
import SentinelReactor

/// The handshake slot of a reactor TLS connection (`limits { max-tls-handshakes }`): the same
/// process-wide `HandshakeGate` and the same rules as `TLSServerHandler` on NIO. A grant comes
/// from whichever thread ended a handshake; it hops to this reactor through its mailbox, marks
/// the slot held and wakes the session, whose `woken` resumes reading.
extension ReactorTLSServer {
    /// A weak reference that may cross to the gate's thread and back (only dereferenced on the loop).
    final class Waiter {
        weak var layer: ReactorTLSServer?
        init(_ layer: ReactorTLSServer) { self.layer = layer }
    }

    func takeSlot(session: UInt64) {
        guard case .none = slot else { return }
        guard let gate else {
            slot = .held
            return
        }
        let loop = inner.services.loop
        let bound = NIOLoopBound(Waiter(self), eventLoop: loop)
        let shared = gate.gate
        if let id = gate.gate.acquire(limit: gate.limit, onGrant: {
            loop.execute {
                guard let layer = bound.value.layer, layer.slotGranted() else {
                    // Closed meanwhile: the slot goes straight to the next waiter.
                    shared.release()
                    return
                }
                _ = layer.inner.services.reactor?.wake(session: session)
            }
        }) {
            slot = .waiting(id)
            metricsWaited()
        } else {
            slot = .held
        }
    }

    /// The gate handed this connection a slot. False: it no longer wants one (closing).
    func slotGranted() -> Bool {
        guard slot.isWaiting, !isClosing else { return false }
        slot = .held
        grantArrived = true
        return true
    }

    func releaseSlot() {
        slot.release(gate?.gate)
    }
}
