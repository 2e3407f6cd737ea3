import SentinelMaster
import SentinelTLS

/// A worker's side of the master's `TICKET-KEYS`: the three keys into the ring every HTTPS
/// listener of this worker encrypts and decrypts tickets with.
enum WorkerTicketKeys {
    static func install(_ keys: TicketKeyMaterial, into ring: TicketKeyRing) {
        func key(_ index: Int) -> TicketKey? {
            keys.withKey(index) { try? TicketKey(bytes: $0) }
        }
        ring.install(previous: key(0), current: key(1), next: key(2))
    }
}
