import Testing
@testable import SentinelRateLimit

#if canImport(Glibc)
import Glibc
#endif

/// The bounded key table on a manual clock, in a private region.
@Suite struct KeyTableTests {
    let second: UInt64 = 1_000_000_000

    func table(maxKeys: Int) -> (KeyTable, RateLimitRegion) {
        let cap = KeyTable.capacity(forMaxKeys: maxKeys)
        let region = RateLimitRegion.makePrivate(bytes: RateLimitRegion.wordsNeeded(capacities: [cap]) * 8)
        return (region.tables(capacities: [cap])![0], region)
    }

    func admitted(_ d: TokenBucket.Decision) -> Bool { d.outcome == .admitted }

    @Test func eachKeyHasItsOwnBucket() {
        let (t, region) = table(maxKeys: 64)
        let b = TokenBucket(ratePerSecond: 10, burst: 2)
        let now = 3 * second
        for key in UInt64(1)...20 {
            #expect(admitted(t.take(hash: key &* 0x9e37_79b9_7f4a_7c15, bucket: b, now: now)))
            #expect(admitted(t.take(hash: key &* 0x9e37_79b9_7f4a_7c15, bucket: b, now: now)))
            #expect(!admitted(t.take(hash: key &* 0x9e37_79b9_7f4a_7c15, bucket: b, now: now)))
        }
        #expect(t.liveKeys(now: now) == 20)
        #expect(t.evictions == 0)
        withExtendedLifetime(region) {}
    }

    @Test func moreLiveKeysThanSlotsEvictTheFullestAndCountIt() {
        let (t, region) = table(maxKeys: 8)
        #expect(t.capacity == 8)
        let b = TokenBucket(ratePerSecond: 1, burst: 5)
        let now = 10 * second
        for key in UInt64(1)...12 { _ = t.take(hash: key, bucket: b, now: now) }
        #expect(t.liveKeys(now: now) == 8)
        #expect(t.evictions == 4)
        withExtendedLifetime(region) {}
    }

    @Test func idleKeysAreSweptAndTheirSlotsReusedWithoutEviction() {
        let (t, region) = table(maxKeys: 8)
        let b = TokenBucket(ratePerSecond: 100, burst: 1)
        let now = 10 * second
        for key in UInt64(1)...8 { _ = t.take(hash: key, bucket: b, now: now) }
        #expect(t.liveKeys(now: now) == 8)
        // 10 ms later every bucket is full again: no key is live, and new keys take the slots.
        let later = now + 10_000_000
        #expect(t.liveKeys(now: later) == 0)
        for key in UInt64(100)...107 { #expect(admitted(t.take(hash: key, bucket: b, now: later))) }
        #expect(t.evictions == 0)
        #expect(t.sweep(now: later + second) == 8)
        #expect(t.liveKeys(now: later + second) == 0)
        withExtendedLifetime(region) {}
    }

    @Test func aSweptKeyComesBackWithAFullBucket() {
        let (t, region) = table(maxKeys: 8)
        let b = TokenBucket(ratePerSecond: 1, burst: 3)
        for _ in 0..<3 { _ = t.take(hash: 42, bucket: b, now: second) }
        #expect(!admitted(t.take(hash: 42, bucket: b, now: second)))
        #expect(t.sweep(now: 10 * second) == 1)
        var passed = 0
        for _ in 0..<5 where admitted(t.take(hash: 42, bucket: b, now: 10 * second)) { passed += 1 }
        #expect(passed == 3)
        withExtendedLifetime(region) {}
    }

    /// Eight threads on one key at one instant: the bucket's burst passes, not more.
    @Test func threadsRacingOnOneKeyTakeEachTokenOnce() async {
        let (t, region) = table(maxKeys: 1024)
        let b = TokenBucket(ratePerSecond: 1, burst: 500)
        let now = 5 * second
        let passed = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var n = 0
                    for _ in 0..<1000 where t.take(hash: 7, bucket: b, now: now).outcome == .admitted { n += 1 }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        #expect(passed == 500)
        withExtendedLifetime(region) {}
    }

    @Test func limitersInOneRegionNeverShareABucket() {
        let rules = [RateLimitRule(scope: "a", ratePerSecond: 1, burst: 1), RateLimitRule(scope: "b", ratePerSecond: 1, burst: 1)]
        let limiters = RateLimiter.makePrivate(rules: rules)
        let ip: [UInt8] = [127, 0, 0, 1]
        let verdicts = limiters.map { l in
            ip.withUnsafeBytes { ipb in
                let h = l.keyHash(clientIP: ipb, path: UnsafeRawBufferPointer(start: nil, count: 0),
                                  route: UnsafeRawBufferPointer(start: nil, count: 0), header: nil)
                return l.check(hash: h, now: second, wallClock: 0).action
            }
        }
        #expect(verdicts == [.proceed, .proceed])
        let c = limiters[0].counters(now: second)
        #expect(c.admitted == 1 && c.limited == 0 && c.keys == 1)
    }

    @Test func theKeyPartsTheRuleDoesNotUseDoNotChangeItsHash() {
        let byPath = RateLimiter.makePrivate(rules: [RateLimitRule(scope: "p", ratePerSecond: 1, burst: 1, key: .path)])[0]
        func hash(_ l: RateLimiter, ip: String, path: String, header: String?) -> UInt64 {
            let i = Array(ip.utf8), p = Array(path.utf8), r = Array("route".utf8), hv = header.map { Array($0.utf8) }
            return i.withUnsafeBytes { ib in p.withUnsafeBytes { pb in r.withUnsafeBytes { rb in
                if let hv { return hv.withUnsafeBytes { l.keyHash(clientIP: ib, path: pb, route: rb, header: $0) } }
                return l.keyHash(clientIP: ib, path: pb, route: rb, header: nil)
            } } }
        }
        #expect(hash(byPath, ip: "1.2.3.4", path: "/a", header: nil) == hash(byPath, ip: "5.6.7.8", path: "/a", header: "x"))
        #expect(hash(byPath, ip: "1.2.3.4", path: "/a", header: nil) != hash(byPath, ip: "1.2.3.4", path: "/b", header: nil))
        let byHeader = RateLimiter.makePrivate(rules: [RateLimitRule(scope: "h", ratePerSecond: 1, burst: 1, key: .header("X-Key"))])[0]
        #expect(hash(byHeader, ip: "1", path: "/", header: nil) != hash(byHeader, ip: "1", path: "/", header: ""))
        #expect(hash(byHeader, ip: "1", path: "/", header: "k") == hash(byHeader, ip: "2", path: "/x", header: "k"))
    }

    @Test func tablesThatDoNotFitTheRegionAreRefused() {
        let region = RateLimitRegion.makePrivate(bytes: 4096)
        #expect(throws: RateLimitRegion.Failure.self) {
            _ = try RateLimiter.make(rules: [RateLimitRule(scope: "big", ratePerSecond: 1, burst: 1, maxKeys: 100_000)], in: region)
        }
    }
}
