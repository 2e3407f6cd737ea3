public import SentinelTLS

/// Rotates a process's session-ticket keys on a timer: previous ← current ← next ← fresh.
///
/// It exists because a process that is not fed keys by a master (`sentinel`, and until the
/// master sends them, each `sentinel-stack` worker) must still stop encrypting with one key
/// after a bounded time: a ticket is then accepted for about two periods after it was minted
/// (while its key is current, then previous), and never after that.
public enum TicketKeyRotation {
    /// How long a key encrypts new tickets.
    public static let period: Duration = .seconds(3600)

    /// Rotates `ring` every `period` until the returned task is cancelled.
    public static func start(_ ring: TicketKeyRing, every period: Duration = period) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                do { try await Task.sleep(for: period) } catch { return }
                // A rotation that cannot draw random bytes keeps the current keys (and tries again
                // next period); the ring is never left without a current key.
                try? ring.rotate()
            }
        }
    }
}
