internal import CSentinelRateLimit

/// A bounded map from key hashes to token-bucket states, in memory that several processes may
/// map at once (`RateLimitRegion`): one limiter's table.
///
/// Layout (64-bit words): a header of `headerWords` (word 0: evictions), then `capacity` slots
/// of two words, the key's hash (0: empty) and its arrival time (`TokenBucket`). Every access
/// is an atomic load, store or compare-and-swap, so workers in different processes update one
/// key's bucket without a lock: a request is one CAS on the arrival time.
///
/// Bounded and self-sweeping: a key may live only in the `probe` slots after its hash's home
/// slot. A slot whose arrival time has passed holds a full bucket, the same state as a key never
/// seen, so it is free for any key (idle keys cost nothing and need no timer). When all `probe`
/// slots hold live buckets, the one closest to full is evicted (counted) and its key starts
/// again with a full bucket. `sweep` clears idle slots so `liveKeys` can be counted cheaply.
///
/// A slot changes owner under a short claim: its arrival time is swapped for `claimMark`, the
/// new hash stored, then a zero arrival time. A process that meets a claimed slot retries; one
/// that died inside the two stores leaves that slot claimed for good (one slot lost, never a
/// wrong verdict).
public struct KeyTable: @unchecked Sendable {
    public static let headerWords = 8
    /// Slots a key may occupy after its home slot (a cache line of four slots, twice).
    public static let probe = 8
    static let claimMark = UInt64.max

    /// The table's first word (its header); valid while the region that holds it is mapped.
    let base: UnsafeMutablePointer<UInt64>
    /// Slots; a power of two.
    public let capacity: Int

    /// Words a table of `capacity` slots takes.
    public static func words(capacity: Int) -> Int { headerWords + 2 * capacity }

    /// The smallest power of two that holds `maxKeys` keys (at least `probe`).
    public static func capacity(forMaxKeys maxKeys: Int) -> Int {
        var c = probe
        while c < maxKeys { c <<= 1 }
        return c
    }

    init(base: UnsafeMutablePointer<UInt64>, capacity: Int) {
        precondition(capacity >= Self.probe && capacity & (capacity - 1) == 0, "capacity must be a power of two >= probe")
        self.base = base
        self.capacity = capacity
    }

    @inline(__always) private func keyWord(_ slot: Int) -> UnsafeMutablePointer<UInt64> { base + Self.headerWords + 2 * slot }
    @inline(__always) private func tatWord(_ slot: Int) -> UnsafeMutablePointer<UInt64> { base + Self.headerWords + 2 * slot + 1 }

    /// Keys evicted while live since the table was made (all processes together).
    public var evictions: UInt64 { sentinel_rl_load(base) }

    /// The verdict on one request of the key hashed to `hash` at `now`, recorded in the table.
    public func take(hash: UInt64, bucket: TokenBucket, now: UInt64, maxDelay: UInt64 = 0) -> TokenBucket.Decision {
        var evicted = false
        return take(hash: hash, bucket: bucket, now: now, maxDelay: maxDelay, evicted: &evicted)
    }

    /// `take`, telling whether this call evicted a live key to make room.
    public func take(hash: UInt64, bucket: TokenBucket, now: UInt64, maxDelay: UInt64, evicted: inout Bool) -> TokenBucket.Decision {
        let h = hash == 0 ? 1 : hash
        let mask = capacity - 1
        let home = Int(truncatingIfNeeded: h) & mask
        // Each pass ends in a verdict or finds the table changed under it (a claim in flight, a
        // lost race for a free slot); bounded, so a slot left claimed by a dead process cannot
        // hold a request forever: the last pass decides as for a new key without recording it.
        for _ in 0..<64 {
            var free = -1
            var oldest = -1
            var oldestTAT = UInt64.max
            var busy = false
            for i in 0..<Self.probe {
                let slot = (home + i) & mask
                let k = sentinel_rl_load(keyWord(slot))
                let t = sentinel_rl_load(tatWord(slot))
                if t == Self.claimMark { busy = true; continue }
                if k == h {
                    if let d = update(slot: slot, seen: t, bucket: bucket, now: now, maxDelay: maxDelay) { return d }
                    busy = true
                    break
                }
                if k == 0 || t <= now {
                    if free < 0 { free = slot }
                } else if t < oldestTAT {
                    oldest = slot
                    oldestTAT = t
                }
            }
            if busy { continue }
            if free >= 0 {
                claim(slot: free, for: h, now: now)
            } else if oldest >= 0, claim(slot: oldest, for: h, now: nil) {
                sentinel_rl_add(base, 1)
                evicted = true
            }
        }
        return bucket.decide(tat: 0, now: now, maxDelay: maxDelay)
    }

    /// One CAS loop on a slot that holds the key; nil when the slot was claimed for another key meanwhile.
    private func update(slot: Int, seen: UInt64, bucket: TokenBucket, now: UInt64, maxDelay: UInt64) -> TokenBucket.Decision? {
        var t = seen
        while true {
            let d = bucket.decide(tat: t, now: now, maxDelay: maxDelay)
            guard let next = d.newTAT else { return d }
            if sentinel_rl_cas(tatWord(slot), &t, next) { return d }
            if t == Self.claimMark { return nil }
        }
    }

    /// Takes a free slot (empty or idle; `now` given) or a live one (eviction; `now` nil) for
    /// `hash`. False when another process changed the slot first.
    @discardableResult
    private func claim(slot: Int, for hash: UInt64, now: UInt64?) -> Bool {
        var t = sentinel_rl_load(tatWord(slot))
        if let now, t > now { return false }
        guard t != Self.claimMark, sentinel_rl_cas(tatWord(slot), &t, Self.claimMark) else { return false }
        sentinel_rl_store(keyWord(slot), hash)
        sentinel_rl_store(tatWord(slot), 0)
        return true
    }

    /// Keys with a live bucket (not full) at `now`.
    public func liveKeys(now: UInt64) -> Int {
        var n = 0
        for slot in 0..<capacity {
            let t = sentinel_rl_load(tatWord(slot))
            if t != Self.claimMark, t > now, sentinel_rl_load(keyWord(slot)) != 0 { n += 1 }
        }
        return n
    }

    /// Empties every slot whose bucket is full at `now` (their keys lose nothing: a returning
    /// key starts with the full bucket it had). Returns the number of slots emptied.
    @discardableResult
    public func sweep(now: UInt64) -> Int {
        var n = 0
        for slot in 0..<capacity where sentinel_rl_load(keyWord(slot)) != 0 {
            var t = sentinel_rl_load(tatWord(slot))
            guard t != Self.claimMark, t <= now, sentinel_rl_cas(tatWord(slot), &t, Self.claimMark) else { continue }
            sentinel_rl_store(keyWord(slot), 0)
            sentinel_rl_store(tatWord(slot), 0)
            n += 1
        }
        return n
    }
}
