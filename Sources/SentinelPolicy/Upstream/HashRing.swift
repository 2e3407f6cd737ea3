/// ip_hash: a key hash mapped onto cumulative weight slots (so weights are honoured), rehashed when
/// the slot's target is ineligible.
///
/// Why it exists: "hash modulo the healthy count" (the original) remaps almost every client whenever
/// one target's health changes. Rehashing only the keys that landed on an ineligible target keeps
/// every other client where it was, which is the point of IP affinity.
struct WeightedSlots: Sendable {
    /// cumulative[i] = weights[0] + … + weights[i].
    private let cumulative: [Int]
    private var total: Int { cumulative.last ?? 0 }

    init(weights: [Int]) {
        var sum = 0
        cumulative = weights.map {
            sum += $0
            return sum
        }
    }

    /// The target owning `hash`'s slot: O(log n).
    func slot(_ hash: UInt64) -> Int {
        let x = Int(truncatingIfNeeded: UInt64(total).multipliedFullWidth(by: hash).high)
        var lo = 0
        var hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    func pick(keyHash: UInt64, _ eligible: (Int) -> Bool) -> Int? {
        guard !cumulative.isEmpty else { return nil }
        var h = keyHash
        for _ in 0..<20 {
            let i = slot(h)
            if eligible(i) { return i }
            h = StableHash.mix(h &+ 0x9E37_79B9_7F4A_7C15)
        }
        return Selection.firstEligible(from: slot(keyHash), count: cumulative.count, eligible)
    }
}

/// Consistent hashing on a ring of virtual nodes, with bounded loads (Mirrokni, Thorup, Zadimoghaddam
/// 2016, as used by HAProxy and Vimeo).
///
/// Why it exists: plain consistent hashing moves only ~1/N keys when a target leaves, but a hot key
/// range can overload one target. Bounded loads cap every target at ⌈c × (in-flight + 1) × its weight
/// share⌉ and walk clockwise to the next target under its cap, so no target exceeds c × its fair
/// share while most keys still land on their "own" target. Ineligible targets are walked past,
/// so only their keys move. Lookup is a binary search (O(log n)); capacity needs the eligible weight,
/// computed (O(n)) only when the first candidate is at or above the cap it would have if every
/// target were eligible.
struct HashRing: Sendable {
    private struct Point: Sendable {
        var hash: UInt64
        var owner: Int32
    }

    private let points: [Point]
    private let weights: [Int]
    private let totalWeight: Int
    private let loadFactor: Double

    init(targets: [BalancerTarget], weights: [Int], virtualNodes: Int, loadFactor: Double, seed: UInt64) {
        let perUnit = min(max(virtualNodes, 1), 10_000)
        // Keep the ring at most ~4M points whatever the weights, so building it stays cheap.
        let totalUnits = max(weights.reduce(0, +), 1)
        let scale = min(1.0, 4_000_000.0 / Double(perUnit * totalUnits))
        var points: [Point] = []
        for (i, target) in targets.enumerated() {
            let base = StableHash.hash(target.address, seed: seed)
            let count = max(1, Int(Double(perUnit * weights[i]) * scale))
            for v in 0..<count {
                points.append(Point(hash: StableHash.combine(base, UInt64(v)), owner: Int32(i)))
            }
        }
        points.sort { $0.hash != $1.hash ? $0.hash < $1.hash : $0.owner < $1.owner }
        self.points = points
        self.weights = weights
        self.totalWeight = totalUnits
        self.loadFactor = max(1, loadFactor)
    }

    /// First point at or after `hash` (wrapping).
    private func start(for hash: UInt64) -> Int {
        var lo = 0
        var hi = points.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if points[mid].hash < hash { lo = mid + 1 } else { hi = mid }
        }
        return lo == points.count ? 0 : lo
    }

    /// ⌈c × (in-flight + 1) × w / W⌉: the most a target may carry after this pick.
    private func capacity(_ i: Int, totalActive: Int, eligibleWeight: Int) -> Int {
        PolicyMath.ceilInt(loadFactor * Double(totalActive + 1) * Double(weights[i]) / Double(eligibleWeight))
    }

    /// The owner of the key's point when loads are ignored and every target is eligible (for tests).
    func owner(of keyHash: UInt64) -> Int? {
        points.isEmpty ? nil : Int(points[start(for: keyHash)].owner)
    }

    func pick(keyHash: UInt64, load: TargetLoad, _ eligible: (Int) -> Bool) -> Int? {
        guard !points.isEmpty else { return nil }
        var index = start(for: keyHash)
        var eligibleWeight: Int?
        var leastLoaded: Int?
        for _ in 0..<points.count {
            let t = Int(points[index].owner)
            if eligible(t) {
                let active = load.active[t]
                if active < capacity(t, totalActive: load.totalActive, eligibleWeight: totalWeight) { return t }
                if eligibleWeight == nil {
                    var sum = 0
                    for i in weights.indices where eligible(i) { sum += weights[i] }
                    eligibleWeight = sum
                }
                if active < capacity(t, totalActive: load.totalActive, eligibleWeight: eligibleWeight!) { return t }
                if leastLoaded.map({ active < load.active[$0] }) ?? true { leastLoaded = t }
            }
            index += 1
            if index == points.count { index = 0 }
        }
        // Unreachable while the caps add up to more than the load (they always do for c ≥ 1);
        // kept so a bookkeeping slip degrades to least-loaded instead of a 503.
        return leastLoaded
    }
}
