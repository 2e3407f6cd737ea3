import SentinelMaster
import SentinelTLS

/// A worker's side of the master's `TICKET-KEYS`: the three keys into the ring every HTTPS
/// listener of this worker encrypts and decrypts tickets with.
enum WorkerTicketKeys {
    static func install(_ keys: TicketKeyMaterial, into ring: TicketKeyRing) {
        func key(_ bytes: ArraySlice<UInt8>) -> TicketKey? {
            bytes.withUnsafeBytes { try? TicketKey(bytes: $0) }
        }
        ring.install(previous: key(keys.previous), current: key(keys.current), next: key(keys.next))
    }
}
