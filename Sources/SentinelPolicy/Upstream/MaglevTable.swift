/// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a prime-sized lookup table filled by
/// letting each target claim slots in its own pseudo-random permutation order, in turns.
///
/// Why it exists: lookups are one array read (O(1)), every target owns an almost equal share of the
/// table (weights give extra turns), and rebuilding without one of N targets moves about 1/N of the
/// keys. When the slot's target is ineligible the lookup walks to the next slots, whose owners are
/// spread over all targets, so only the ineligible target's keys move and they spread evenly.
struct MaglevTable: Sendable {
    /// Slot → target index. UInt16 keeps the default table at 128 KiB per upstream per worker.
    private let table: [UInt16]
    private let targetCount: Int

    var size: Int { table.count }

    init(targets: [BalancerTarget], weights: [Int], size requested: Int, seed: UInt64) {
        // Targets beyond 65536 cannot be named in a UInt16 slot (nor get a slot in a 65537 table).
        let n = min(targets.count, 1 << 16)
        targetCount = n
        guard n > 0 else {
            table = []
            return
        }
        // Capped at ~4M slots (8 MiB) whatever the configuration asks.
        let m = Self.prime(atLeast: max(min(requested, 1 << 22), n, 7))
        var offset = [Int](repeating: 0, count: n)
        var skip = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let name = targets[i].address
            offset[i] = Int(StableHash.hash(name, seed: seed ^ 0x6D61_676C_6576_3031) % UInt64(m))
            skip[i] = Int(StableHash.hash(name, seed: seed ^ 0x6D61_676C_6576_3032) % UInt64(m - 1)) + 1
        }
        // Turns per round, reduced by the weights' gcd so equal weights give one turn each.
        let g = weights.prefix(n).reduce(0) { Self.gcd($0, $1) }
        let turns = weights.prefix(n).map { max(1, $0 / max(g, 1)) }
        var next = [Int](repeating: 0, count: n)
        var entry = [Int32](repeating: -1, count: m)
        var filled = 0
        fill: while true {
            for i in 0..<n {
                for _ in 0..<turns[i] {
                    var slot = (offset[i] + next[i] * skip[i]) % m
                    while entry[slot] >= 0 {
                        next[i] += 1
                        slot = (offset[i] + next[i] * skip[i]) % m
                    }
                    entry[slot] = Int32(i)
                    next[i] += 1
                    filled += 1
                    if filled == m { break fill }
                }
            }
        }
        table = entry.map { UInt16(truncatingIfNeeded: $0) }
    }

    /// The slot's owner with every target eligible (for tests and metrics).
    func owner(of keyHash: UInt64) -> Int? {
        table.isEmpty ? nil : Int(table[Int(keyHash % UInt64(table.count))])
    }

    /// How many slots each target owns.
    func shares() -> [Int] {
        var counts = [Int](repeating: 0, count: targetCount)
        for t in table { counts[Int(t)] += 1 }
        return counts
    }

    func pick(keyHash: UInt64, _ eligible: (Int) -> Bool) -> Int? {
        guard !table.isEmpty else { return nil }
        var slot = Int(keyHash % UInt64(table.count))
        for step in 0..<table.count {
            let t = Int(table[slot])
            if eligible(t) { return t }
            // After a short walk, make sure the walk can end before scanning the whole table.
            if step == 32, Selection.firstEligible(from: 0, count: targetCount, eligible) == nil { return nil }
            slot += 1
            if slot == table.count { slot = 0 }
        }
        return nil
    }

    static func gcd(_ a: Int, _ b: Int) -> Int {
        var (x, y) = (abs(a), abs(b))
        while y != 0 { (x, y) = (y, x % y) }
        return x
    }

    static func prime(atLeast n: Int) -> Int {
        var candidate = max(n, 2)
        while true {
            var isPrime = candidate >= 2
            var d = 2
            while d * d <= candidate {
                if candidate % d == 0 {
                    isPrime = false
                    break
                }
                d += 1
            }
            if isPrime { return candidate }
            candidate += 1
        }
    }
}
