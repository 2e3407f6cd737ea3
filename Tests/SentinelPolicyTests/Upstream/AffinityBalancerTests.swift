import Testing

@testable import SentinelPolicy

@Suite struct LocalityTests {
    // Zones: 0 a, 1 b, 2 a, 3 c, 4 none.
    private let zoned = makeTargets(5, zones: ["a", "b", "a", "c", nil])

    @Test func localZoneTakesAllTraffic() {
        var lb = balancer(.localityAware, zoned) { $0.localZone = "a" }
        #expect(lb.histogram(1000) == [500, 0, 500, 0, 0])
    }

    @Test func localZoneHonoursWeights() {
        var lb = balancer(.localityAware, makeTargets(3, weights: [3, 1, 1], zones: ["a", "a", "b"])) {
            $0.localZone = "a"
        }
        #expect(lb.histogram(1000) == [750, 250, 0])
    }

    @Test func fallsBackInZonePriorityOrder() {
        var lb = balancer(.localityAware, zoned) {
            $0.localZone = "a"
            $0.zonePriority = ["c"]
        }
        let noLocal = { (i: Int) in i != 0 && i != 2 }
        #expect(lb.histogram(100, eligible: noLocal) == [0, 0, 0, 100, 0])
        let onlyRemote = { (i: Int) in i == 1 || i == 4 }
        #expect(lb.histogram(100, eligible: onlyRemote) == [0, 50, 0, 0, 50])
        // The local zone wins again as soon as it has an eligible target.
        #expect(lb.histogram(10) { $0 != 0 } == [0, 0, 10, 0, 0])
    }

    @Test func randomFallbackStaysInTheNextTier() {
        var lb = balancer(.localityAware, zoned) {
            $0.localZone = "a"
            $0.localityFallback = .random
        }
        let counts = lb.histogram(3000) { $0 != 0 && $0 != 2 }
        #expect(counts[0] == 0 && counts[2] == 0)
        #expect(counts[1] > 800 && counts[3] > 800 && counts[4] > 800)
    }

    @Test func failLocalRefusesCrossZoneTraffic() {
        var lb = balancer(.localityAware, zoned) {
            $0.localZone = "a"
            $0.localityFallback = .failLocal
        }
        var rng = SplitMixRandom(seed: 1)
        #expect(lb.next(&rng) { $0 != 0 && $0 != 2 } == nil)
        #expect(lb.next(&rng) { $0 != 0 } == 2)
        var noLocalTargets = balancer(.localityAware, zoned) {
            $0.localZone = "z"
            $0.localityFallback = .failLocal
        }
        #expect(noLocalTargets.next(&rng) == nil)
    }
}

@Suite struct DeterministicSubsetTests {
    private let many = makeTargets(100)

    @Test func subsetIsStableForAProxyIDAndHasTheConfiguredSize() {
        let a = balancer(.deterministicSubset, many) { $0.proxyID = "edge-1" }
        let again = balancer(.deterministicSubset, many) { $0.proxyID = "edge-1" }
        let other = balancer(.deterministicSubset, many) { $0.proxyID = "edge-2" }
        #expect(a.subset!.count == 10)
        #expect(Set(a.subset!).count == 10)
        #expect(a.subset == again.subset)
        #expect(a.subset != other.subset)
    }

    @Test func picksRoundRobinInsideTheSubset() {
        var lb = balancer(.deterministicSubset, many) { $0.proxyID = "edge-1" }
        let counts = lb.histogram(1000)
        let used = Set(counts.indices.filter { counts[$0] > 0 })
        #expect(used == Set(lb.subset!))
        #expect(lb.subset!.allSatisfy { counts[$0] == 100 })
    }

    @Test func proxiesSpreadEvenlyOverTargets() {
        var coverage = [Int](repeating: 0, count: 100)
        for p in 0..<1000 {
            let lb = balancer(.deterministicSubset, many) { $0.proxyID = "proxy-\(p)" }
            for t in lb.subset! { coverage[t] += 1 }
        }
        // 1000 proxies × 10 targets / 100 targets = 100 proxies per target on average.
        #expect(coverage.min()! > 60 && coverage.max()! < 145, "\(coverage.min()!)…\(coverage.max()!)")
    }

    @Test func removingATargetKeepsTheRestOfTheSubset() {
        let full = balancer(.deterministicSubset, many) { $0.proxyID = "edge-1" }
        let removed = full.subset![3]
        let smaller = balancer(.deterministicSubset, many.filter { $0 != many[removed] }) { $0.proxyID = "edge-1" }
        let before = Set(full.subset!.map { many[$0].address })
        let after = Set(smaller.subset!.map { smaller.targets[$0].address })
        #expect(before.intersection(after).count == 9)
    }

    @Test func spillsToNextRankedWhenTheSubsetIsDown() {
        var lb = balancer(.deterministicSubset, many) {
            $0.proxyID = "edge-1"
            $0.subsetSize = 3
        }
        let members = Set(lb.subset!)
        var rng = SplitMixRandom(seed: 1)
        let picked = lb.next(&rng) { !members.contains($0) }!
        #expect(!members.contains(picked))
    }
}

@Suite struct StickyTests {
    private let key = Array("correct horse battery staple".utf8)

    private func sticky(_ fallback: BalancingAlgorithm = .roundRobin, targets: [BalancerTarget] = makeTargets(4))
        -> LoadBalancer
    {
        balancer(.sticky, targets) {
            $0.stickyKey = key
            $0.stickyFallback = fallback
        }
    }

    private func pick(_ lb: inout LoadBalancer, cookie: String?, eligible: (Int) -> Bool = { _ in true }) -> Pick? {
        lb.pick(PickContext(stickyCookie: cookie, random: 1), eligible: eligible)
    }

    @Test func firstRequestGetsACookieThatSticks() throws {
        var lb = sticky()
        let first = try #require(pick(&lb, cookie: nil))
        let cookie = try #require(first.setCookie)
        #expect(cookie.hasPrefix("\(first.target)."))
        #expect(cookie.count == "\(first.target)".count + 1 + 16)
        for _ in 0..<10 {
            #expect(pick(&lb, cookie: cookie) == Pick(target: first.target, setCookie: nil))
        }
    }

    @Test func cookiesAreValidAcrossInstancesWithTheSameKey() throws {
        let a = sticky()
        var b = sticky(.random)
        let cookie = try #require(a.stickyCookieValue(for: 2))
        #expect(pick(&b, cookie: cookie) == Pick(target: 2))
    }

    @Test(arguments: [
        "2.0000000000000000", "2.", "2", ".0123456789abcdef", "02.0123456789abcdef", "+2.0123456789abcdef",
        "99.0123456789abcdef", "2.0123456789ABCDEF0", "garbage", "", "٣.0123456789abcdef",
    ])
    func forgedOrMalformedCookiesAreIgnored(cookie: String) throws {
        var lb = sticky()
        let result = try #require(pick(&lb, cookie: cookie))
        #expect(result.setCookie == lb.stickyCookieValue(for: result.target))
    }

    @Test func retargetedTagIsRejected() throws {
        var lb = sticky()
        let valid = try #require(lb.stickyCookieValue(for: 1))
        let tag = valid.split(separator: ".")[1]
        let forged = "3.\(tag)"
        let result = try #require(pick(&lb, cookie: forged))
        #expect(result.setCookie != nil)
        let tampered = "1." + String(tag.dropLast()) + (tag.last == "0" ? "1" : "0")
        #expect(pick(&lb, cookie: tampered)?.setCookie != nil)
    }

    @Test func otherKeyOrReorderedTargetsInvalidateCookies() throws {
        var lb = sticky()
        let otherKey = balancer(.sticky, makeTargets(4)) { $0.stickyKey = Array("another".utf8) }
        let cookie = try #require(otherKey.stickyCookieValue(for: 1))
        #expect(pick(&lb, cookie: cookie)?.setCookie != nil)
        // The cookie signs the address too: a reload that moves another target to index 1 rejects it.
        let mine = try #require(lb.stickyCookieValue(for: 1))
        var reordered = sticky(targets: makeTargets(4).reversed())
        #expect(pick(&reordered, cookie: mine)?.setCookie != nil)
    }

    @Test func ineligibleTargetFallsBackAndReissuesTheCookie() throws {
        var lb = sticky(.leastConnections)
        let cookie = try #require(lb.stickyCookieValue(for: 2))
        let result = try #require(pick(&lb, cookie: cookie) { $0 != 2 })
        #expect(result.target != 2)
        #expect(result.setCookie == lb.stickyCookieValue(for: result.target))
        #expect(pick(&lb, cookie: cookie) { _ in false } == nil)
    }

    @Test func retryAvoidsTheStickyTargetThatFailed() throws {
        var lb = sticky()
        let cookie = try #require(lb.stickyCookieValue(for: 0))
        var tried = TriedTargets()
        tried.insert(0)
        let retry = try #require(lb.pick(PickContext(stickyCookie: cookie, random: 3), avoiding: tried) { _ in true })
        #expect(retry.target != 0)
        #expect(retry.setCookie != nil)
        // Nothing else eligible: the tried target is used after all.
        #expect(lb.pick(PickContext(stickyCookie: cookie, random: 3), avoiding: tried) { $0 == 0 }?.target == 0)
    }
}
