/// Locality-aware balancing: targets grouped into tiers (local zone, then the zone-priority list in
/// order, then every other zone), served from the first tier with an eligible target.
///
/// Why it exists: cross-zone traffic costs latency and money, so the local zone takes all traffic
/// while it has any eligible target. When it has none, the fallback either spills to the nearest
/// tier (weighted round robin or weighted random inside it) or, with `failLocal`, refuses (503) for
/// deployments where leaving the zone is forbidden. Weights are honoured in every tier.
struct ZoneTiers: Sendable {
    private let tiers: [[Int]]
    private let fallback: BalancerOptions.LocalityFallback

    init(
        targets: [BalancerTarget], localZone: String, zonePriority: [String], fallback: BalancerOptions.LocalityFallback
    ) {
        var order = [localZone]
        for zone in zonePriority where !order.contains(zone) { order.append(zone) }
        var tiers = [[Int]](repeating: [], count: order.count + 1)
        for (i, target) in targets.enumerated() {
            if let zone = target.zone, let rank = order.firstIndex(of: zone) {
                tiers[rank].append(i)
            } else {
                tiers[order.count].append(i)
            }
        }
        self.tiers = tiers.filter { !$0.isEmpty }
        self.fallback = fallback
        self.localTierIsFirst = !tiers[0].isEmpty
    }

    /// Whether any target is in the local zone (the first tier is the local one).
    private let localTierIsFirst: Bool

    /// Target indices in the local zone.
    var local: [Int] { localTierIsFirst ? tiers[0] : [] }

    func pick(
        smooth: inout SmoothWeighted, weights: [Int], random rng: inout SplitMixRandom, _ eligible: (Int) -> Bool
    ) -> Int? {
        for (rank, members) in tiers.enumerated() {
            let isLocal = rank == 0 && localTierIsFirst
            if !isLocal, fallback == .failLocal { return nil }
            let chosen: Int?
            if isLocal || fallback == .roundRobin {
                chosen = smooth.pick(among: members, weights: weights, eligible)
            } else {
                chosen = Selection.weightedRandom(
                    among: members, random: &rng, weight: { Double(weights[$0]) }, eligible)
            }
            if let chosen { return chosen }
        }
        return nil
    }
}

/// Deterministic subsetting: each proxy talks to its own `subsetSize` targets, chosen by rendezvous
/// (highest-random-weight) hashing of (proxy id, target address), round robin inside the subset.
///
/// Why it exists: with many proxies and many targets, a full mesh of connections wastes memory and
/// handshakes on both sides. Rendezvous hashing makes the subset a pure function of the proxy id (the
/// original drew a random id per process, losing warm connections on every restart), spreads proxies
/// evenly over targets, and changes only minimally when targets come and go. When the whole subset is
/// ineligible, the next-ranked targets serve instead of failing the request.
struct SubsetRanking: Sendable {
    /// All targets, best rank first; the subset is the first `size`.
    let ranked: [Int]
    let size: Int

    init(targets: [BalancerTarget], proxyID: String, size: Int, seed: UInt64) {
        let proxyHash = StableHash.hash(proxyID, seed: seed ^ 0x7375_6273_6574_3031)
        let scored = targets.enumerated().map { (i, t) in (StableHash.hash(t.address, seed: proxyHash), i) }
        ranked = scored.sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }.map(\.1)
        self.size = min(max(size, 1), targets.count)
    }

    var members: ArraySlice<Int> { ranked.prefix(size) }

    func pick(cursor: inout Int, _ eligible: (Int) -> Bool) -> Int? {
        guard size > 0 else { return nil }
        if let k = Selection.roundRobin(cursor: &cursor, count: size, { eligible(ranked[$0]) }) {
            return ranked[k]
        }
        for i in ranked.dropFirst(size) where eligible(i) { return i }
        return nil
    }
}
