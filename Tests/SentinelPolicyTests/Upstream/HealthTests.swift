import Testing

@testable import SentinelPolicy

@Suite struct PassiveHealthTests {
    private func health(window: Int = 10, rate: Double = 0.5, min: Int = 4, ejection: Duration = .seconds(30))
        -> PassiveHealth
    {
        PassiveHealth(configuration: .init(window: window, failureRate: rate, minRequests: min, ejectionTime: ejection))
    }

    @Test func defaultsMatchTheSpec() {
        let c = PassiveHealth.Configuration()
        #expect(c.window == 100 && c.failureRate == 0.5 && c.minRequests == 10 && c.ejectionTime == .seconds(30))
    }

    @Test func oneFailureCannotEject() {
        var h = health()
        #expect(h.record(success: false, now: .zero) == nil)
        #expect(h.isEligible(now: .zero))
    }

    @Test func ejectsAtTheThresholdOnceThereAreEnoughSamples() {
        var h = health()
        #expect(h.record(success: true, now: .zero) == nil)
        #expect(h.record(success: false, now: .zero) == nil)
        #expect(h.record(success: true, now: .zero) == nil)
        // 4 samples, 2 failures: 50 % ≥ 50 %.
        #expect(h.record(success: false, now: .seconds(1)) == .ejected(until: .seconds(31), failureRate: 0.5))
        #expect(h.status == .ejected(until: .seconds(31)))
        #expect(!h.isEligible(now: .seconds(30)))
        #expect(h.isEligible(now: .seconds(31)))
    }

    @Test func theWindowSlides() {
        var h = health(window: 4, rate: 0.75, min: 4)
        #expect(h.record(success: false, now: .zero) == nil)
        for _ in 0..<3 { #expect(h.record(success: true, now: .zero) == nil) }
        // The fifth outcome pushes the first failure out of the 4-wide window.
        #expect(h.record(success: true, now: .zero) == nil)
        #expect(h.failures == 0 && h.samples == 4)
        #expect(h.record(success: false, now: .zero) == nil)  // 1 of 4
        #expect(h.record(success: false, now: .zero) == nil)  // 2 of 4
        #expect(h.record(success: false, now: .zero) == .ejected(until: .seconds(30), failureRate: 0.75))
    }

    @Test func readmittedOnProbationThenRecovers() {
        var h = health()
        for _ in 0..<4 { _ = h.record(success: false, now: .zero) }
        #expect(h.poll(now: .seconds(29)) == nil)
        // Results of requests still in flight while ejected are ignored.
        #expect(h.record(success: false, now: .seconds(10)) == nil)
        #expect(h.poll(now: .seconds(30)) == .readmitted)
        #expect(h.status == .probation && h.samples == 0)
        for _ in 0..<3 { #expect(h.record(success: true, now: .seconds(31)) == nil) }
        #expect(h.record(success: true, now: .seconds(31)) == .recovered)
        #expect(h.status == .healthy && h.consecutiveEjections == 0)
    }

    @Test func readmissionIsNoticedByRecordToo() {
        var h = health()
        for _ in 0..<4 { _ = h.record(success: false, now: .zero) }
        #expect(h.record(success: true, now: .seconds(40)) == .readmitted)
        #expect(h.status == .probation && h.samples == 1)
    }

    @Test func failingOnProbationEjectsForLonger() {
        var h = health()
        for _ in 0..<4 { _ = h.record(success: false, now: .zero) }
        _ = h.poll(now: .seconds(30))
        for _ in 0..<3 { _ = h.record(success: false, now: .seconds(31)) }
        #expect(h.record(success: false, now: .seconds(31)) == .ejected(until: .seconds(91), failureRate: 1))
        #expect(h.consecutiveEjections == 2)
    }

    @Test func ejectionGrowthIsCapped() {
        var h = PassiveHealth(
            configuration: .init(window: 4, minRequests: 1, ejectionTime: .seconds(1), maxEjectionMultiplier: 3))
        var now = Duration.zero
        for _ in 0..<6 {
            _ = h.record(success: false, now: now)
            guard case .ejected(let until) = h.status else { Issue.record("not ejected"); return }
            #expect(until - now <= .seconds(3))
            now = until
        }
        #expect(h.consecutiveEjections == 3)
    }

    @Test func activeCheckSuccessCanReadmitEarly() {
        var h = health()
        for _ in 0..<4 { _ = h.record(success: false, now: .zero) }
        #expect(h.readmit() == .readmitted)
        #expect(h.isEligible(now: .seconds(1)))
        #expect(h.readmit() == nil)
    }
}

@Suite struct ActiveHealthTests {
    private typealias T = ActiveHealthState.Transition

    @Test func startsUnknownAndEligible() {
        let h = ActiveHealthState()
        #expect(h.status == .unknown && h.isEligible)
        #expect(h.healthyThreshold == 2 && h.unhealthyThreshold == 3)
    }

    @Test func unknownToHealthy() {
        var h = ActiveHealthState(healthyThreshold: 2, unhealthyThreshold: 3)
        #expect(h.record(success: true) == nil)
        #expect(h.record(success: true) == T(from: .unknown, to: .healthy))
        #expect(h.record(success: true) == nil)
    }

    @Test func unknownToUnhealthy() {
        var h = ActiveHealthState(healthyThreshold: 2, unhealthyThreshold: 3)
        #expect(h.record(success: false) == nil)
        #expect(h.record(success: false) == nil)
        #expect(h.record(success: false) == T(from: .unknown, to: .unhealthy))
        #expect(!h.isEligible)
        #expect(h.record(success: false) == nil)
    }

    @Test func healthyToUnhealthyNeedsAnUnbrokenRun() {
        var h = ActiveHealthState(healthyThreshold: 1, unhealthyThreshold: 3)
        _ = h.record(success: true)
        _ = h.record(success: false)
        _ = h.record(success: false)
        #expect(h.record(success: true) == nil)  // run broken
        _ = h.record(success: false)
        _ = h.record(success: false)
        #expect(h.record(success: false) == T(from: .healthy, to: .unhealthy))
    }

    @Test func unhealthyToHealthy() {
        var h = ActiveHealthState(healthyThreshold: 2, unhealthyThreshold: 1)
        #expect(h.record(success: false) == T(from: .unknown, to: .unhealthy))
        #expect(h.record(success: true) == nil)
        #expect(!h.isEligible)
        #expect(h.record(success: true) == T(from: .unhealthy, to: .healthy))
        #expect(h.isEligible)
    }
}
