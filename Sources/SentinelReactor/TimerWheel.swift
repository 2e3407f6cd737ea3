/// A hashed timer wheel of lazy, per-owner deadlines: pure (no clock read inside; every call
/// takes `now`), so it is tested with a hand-moved clock.
///
/// Each session has one deadline (the earliest of everything it waits for). Moving a
/// deadline *later* — what a healthy keep-alive connection does on every request — costs
/// nothing here: the session only stores the new value, and when the old entry comes due the
/// reactor sees the real deadline is later and re-inserts it once. Moving it *earlier* adds an
/// entry and leaves the old one stale (dropped when it comes due, since the owner's armed
/// deadline no longer matches). So a busy connection touches the wheel about once per timeout
/// period instead of a cancel and an insert per request (the cost NIO's heap showed in the
/// profile of docs/benchmarks.md).
///
/// Entries beyond one revolution stay in their slot until a later revolution reaches them.
/// Bounds: the wheel holds at most one live entry per session plus stale ones, each removed the
/// first time its slot comes due.
public struct TimerWheel {
    public struct Entry: Equatable, Sendable {
        public var owner: UInt64
        public var deadline: ReactorInstant
    }

    public let tickMilliseconds: UInt64
    private var slots: [[Entry]]
    /// One bit per slot that holds entries, to find the next due slot without a scan.
    private var occupied: [UInt64]
    private let mask: Int
    /// The last tick whose slot was processed.
    private var currentTick: UInt64
    public private(set) var count = 0

    /// `slotCount` is rounded up to a power of two (at least 64).
    public init(tickMilliseconds: UInt64 = 4, slotCount: Int = 4096, now: ReactorInstant) {
        precondition(tickMilliseconds > 0)
        var n = 64
        while n < slotCount { n <<= 1 }
        self.tickMilliseconds = tickMilliseconds
        slots = Array(repeating: [], count: n)
        occupied = Array(repeating: 0, count: n / 64)
        mask = n - 1
        currentTick = now.milliseconds / tickMilliseconds
    }

    public var isEmpty: Bool { count == 0 }

    /// Adds an entry for `owner` due at `deadline` (a past deadline fires at the next `expire`).
    public mutating func schedule(_ owner: UInt64, at deadline: ReactorInstant) {
        var tick = deadline.milliseconds / tickMilliseconds
        // Round up so a timer never fires early, and never into the slot already processed.
        if deadline.milliseconds % tickMilliseconds != 0 { tick += 1 }
        if tick <= currentTick { tick = currentTick + 1 }
        let slot = Int(truncatingIfNeeded: tick) & mask
        slots[slot].append(Entry(owner: owner, deadline: deadline))
        occupied[slot >> 6] |= 1 << UInt64(slot & 63)
        count += 1
    }

    /// Moves the wheel to `now` and appends every entry due at or before it to `due`.
    /// Entries of later revolutions in the slots passed stay where they are.
    public mutating func expire(upTo now: ReactorInstant, into due: inout [Entry]) {
        let target = now.milliseconds / tickMilliseconds
        guard target > currentTick else { return }
        // More than a revolution behind: every slot comes due once.
        let steps = min(target - currentTick, UInt64(slots.count))
        var tick = target - steps
        while tick < target {
            tick += 1
            let slot = Int(truncatingIfNeeded: tick) & mask
            guard occupied[slot >> 6] & (1 << UInt64(slot & 63)) != 0 else { continue }
            var i = 0
            while i < slots[slot].count {
                if slots[slot][i].deadline <= now {
                    due.append(slots[slot][i])
                    slots[slot].swapAt(i, slots[slot].count - 1)
                    slots[slot].removeLast()
                    count -= 1
                } else {
                    i += 1
                }
            }
            if slots[slot].isEmpty { occupied[slot >> 6] &= ~(1 << UInt64(slot & 63)) }
        }
        currentTick = target
    }

    /// Milliseconds from `now` until the next occupied slot's tick (a lower bound of the next
    /// expiry; 0 when one is due), or nil when the wheel is empty: the reactor's epoll timeout.
    public func millisecondsUntilNextTick(now: ReactorInstant) -> Int? {
        guard count > 0 else { return nil }
        let words = occupied.count
        let startSlot = Int(truncatingIfNeeded: currentTick + 1) & mask
        // Scan the bitmap from the slot after the current one, wrapping once.
        var distance: Int?
        var w = startSlot >> 6
        var bits = occupied[w] & (~0 << UInt64(startSlot & 63))
        for step in 0...words {
            if bits != 0 {
                let slot = (w << 6) + bits.trailingZeroBitCount
                distance = (slot - startSlot + slots.count) & mask
                break
            }
            w = (w + 1) % words
            bits = occupied[w]
            // Back at the first word: only the slots before the start are left.
            if step == words - 1 { bits &= (1 << UInt64(startSlot & 63)) &- 1 }
        }
        guard let distance else { return nil }
        let dueTick = currentTick + 1 + UInt64(distance)
        let dueMs = dueTick * tickMilliseconds
        return dueMs <= now.milliseconds ? 0 : Int(dueMs - now.milliseconds)
    }
}
