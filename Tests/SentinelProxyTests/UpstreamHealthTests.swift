import Foundation
import SentinelPolicy
import Synchronization
import Testing

@testable import SentinelProxy

/// Collects the JSON lines `UpstreamHealth` logs.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var sink: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
    /// Each line as a JSON object.
    var objects: [[String: Any]] { all.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] } }
    /// The fields of each line without the leading ts, role and pid (compared as strings).
    var fields: [[String: String]] {
        objects.map { o in
            var out: [String: String] = [:]
            for (k, v) in o where !["ts", "role", "pid"].contains(k) { out[k] = "\(v)" }
            return out
        }
    }
}

func upstream(
    _ id: String = "api", ports: [Int], check: HealthCheckSpec? = nil, breaker: CircuitBreaker.Configuration? = nil,
    passive: PassiveHealth.Configuration? = nil, generation: UInt64 = 1
) -> UpstreamRuntime {
    var u = UpstreamRuntime(
        id: id, targets: ports.map { .init(host: "127.0.0.1", port: $0) },
        resilience: UpstreamResilience(healthCheck: check, circuitBreaker: breaker, passiveHealth: passive))
    u.generation = generation
    return u
}

/// Pure state transitions with a manual clock (every `now` is passed in).
@Suite struct UpstreamHealthTests {
    let t0 = Duration.seconds(100)

    @Test func breakerOpensSkipsThenRecoversThroughHalfOpen() {
        let log = LogLines()
        let metrics = MetricsRegistry()
        let health = UpstreamHealth(metrics: metrics, log: log.sink)
        let breaker = CircuitBreaker.Configuration(failureThreshold: 2, successThreshold: 1, timeout: .seconds(10))
        health.configure([upstream(ports: [1, 2], breaker: breaker)], now: t0)
        let a = "127.0.0.1:1"
        for _ in 0..<2 {
            #expect(health.admit(upstream: "api", target: a, now: t0))
            health.report(upstream: "api", target: a, outcome: .failure(.connectFailed), latency: .milliseconds(1), now: t0)
        }
        #expect(!health.isEligible(upstream: "api", target: a, now: t0 + .seconds(9)))
        #expect(health.eligibility(upstream: "api", addresses: ["127.0.0.1:1", "127.0.0.1:2"], now: t0) == [false, true])
        #expect(!health.admit(upstream: "api", target: a, now: t0 + .seconds(9)))
        #expect(log.fields == [
            [
                "level": "warn", "event": "circuit_breaker_changed", "upstream": "api", "target": "127.0.0.1:1", "from": "closed",
                "to": "open", "reason": "connect_failed",
            ]
        ])
        #expect(log.all[0].hasPrefix(#"{"ts":""#) && log.all[0].contains(#""role":"proxy","pid":"#))
        #expect(metrics.render(version: "t").contains("sentinel_circuit_breaker_state{upstream=\"api\",target=\"127.0.0.1:1\"} 1\n"))
        #expect(metrics.render(version: "t").contains("sentinel_circuit_breaker_trips_total{upstream=\"api\",target=\"127.0.0.1:1\"} 1\n"))
        // After the timeout the next admission is the half-open trial; its success closes the breaker.
        #expect(health.isEligible(upstream: "api", target: a, now: t0 + .seconds(10)))
        #expect(health.admit(upstream: "api", target: a, now: t0 + .seconds(10)))
        #expect(health.snapshot(now: t0 + .seconds(10))[0].targets[0].breaker == .halfOpen)
        #expect(!health.admit(upstream: "api", target: a, now: t0 + .seconds(10)), "one trial at a time")
        health.report(upstream: "api", target: a, outcome: .success, latency: .milliseconds(1), now: t0 + .seconds(11))
        #expect(health.snapshot(now: t0)[0].targets[0].breaker == .closed)
        #expect(log.all.count == 3)
        #expect(log.fields[2]["from"] == "half_open" && log.fields[2]["to"] == "closed")
        #expect(metrics.render(version: "t").contains("sentinel_circuit_breaker_state{upstream=\"api\",target=\"127.0.0.1:1\"} 0\n"))
    }

    @Test func passiveEjectionExpiresAndAProbeReadmits() {
        let log = LogLines()
        let metrics = MetricsRegistry()
        let health = UpstreamHealth(metrics: metrics, log: log.sink)
        let passive = PassiveHealth.Configuration(window: 4, failureRate: 0.5, minRequests: 2, ejectionTime: .seconds(30))
        health.configure([upstream(ports: [1], check: HealthCheckSpec(healthyThreshold: 1), passive: passive)], now: t0)
        let a = "127.0.0.1:1"
        for _ in 0..<2 {
            _ = health.admit(upstream: "api", target: a, now: t0)
            health.report(upstream: "api", target: a, outcome: .failure(.serverError), latency: .zero, now: t0)
        }
        #expect(!health.isEligible(upstream: "api", target: a, now: t0 + .seconds(29)))
        #expect(health.isEligible(upstream: "api", target: a, now: t0 + .seconds(30)), "ejection is timed, never permanent")
        #expect(health.snapshot(now: t0)[0].targets[0].ejected)
        #expect(metrics.render(version: "t").contains("sentinel_upstream_ejections_total{upstream=\"api\",target=\"127.0.0.1:1\"} 1\n"))
        #expect(metrics.render(version: "t").contains("sentinel_upstream_target_healthy{upstream=\"api\",target=\"127.0.0.1:1\"} 0\n"))
        health.probeResult(upstream: "api", target: a, success: true, now: t0 + .seconds(1))
        #expect(health.isEligible(upstream: "api", target: a, now: t0 + .seconds(1)), "an active check success readmits")
        #expect(log.fields.map { $0["event"] } == ["upstream_target_ejected", "upstream_target_readmitted", "upstream_health_changed"])
        // Typed: the failure rate and the ejection time are numbers.
        #expect(log.objects[0]["failure_rate"] as? Double == 1)
        #expect(log.objects[0]["ejected_for_secs"] as? Double == 30)
    }

    @Test func activeThresholdsAndReloadCarryOver() {
        let metrics = MetricsRegistry()
        let health = UpstreamHealth(metrics: metrics)
        let check = HealthCheckSpec(healthyThreshold: 2, unhealthyThreshold: 2)
        health.configure([upstream(ports: [1, 2], check: check)], now: t0)
        health.probeResult(upstream: "api", target: "127.0.0.1:1", success: false, now: t0)
        #expect(health.isEligible(upstream: "api", target: "127.0.0.1:1", now: t0), "one failed probe is not enough")
        health.probeResult(upstream: "api", target: "127.0.0.1:1", success: false, now: t0)
        #expect(!health.isEligible(upstream: "api", target: "127.0.0.1:1", now: t0))
        health.probeResult(upstream: "api", target: "127.0.0.1:2", success: true, now: t0)
        health.probeResult(upstream: "api", target: "127.0.0.1:2", success: true, now: t0)
        // Reload: target 2 removed, 3 added, 1 keeps its verdict.
        health.configure([upstream(ports: [1, 3], check: check)], now: t0)
        let status = health.snapshot(now: t0)[0].targets
        #expect(status.map(\.address) == ["127.0.0.1:1", "127.0.0.1:3"])
        #expect(status.map(\.health) == [.unhealthy, .unknown])
        #expect(status.map(\.inFlight) == [0, 0])
        let text = metrics.render(version: "t")
        #expect(!text.contains("127.0.0.1:2"), "removed targets leave the metrics")
        #expect(text.contains("sentinel_upstream_target_healthy{upstream=\"api\",target=\"127.0.0.1:3\"} 1\n"))
        // A reload that changes the thresholds starts the verdict afresh.
        health.configure([upstream(ports: [1], check: HealthCheckSpec(healthyThreshold: 1, unhealthyThreshold: 1))], now: t0)
        #expect(health.snapshot(now: t0)[0].targets[0].health == .unknown)
        health.configure([], now: t0)
        #expect(health.snapshot(now: t0).isEmpty)
    }
}

@Suite struct TargetSelectorTests {
    let now = Duration.seconds(5)

    func context() -> PickContext { PickContext(random: 42, now: now) }

    @Test func skipsIneligibleTargetsAndReturnsNilWhenNoneIsLeft() {
        let metrics = MetricsRegistry()
        let health = UpstreamHealth(metrics: metrics)
        let u = upstream(ports: [1, 2, 3], check: HealthCheckSpec(healthyThreshold: 1, unhealthyThreshold: 1))
        health.configure([u], now: now)
        let selector = TargetSelector(health: health, metrics: metrics)
        health.probeResult(upstream: "api", target: "127.0.0.1:2", success: false, now: now)
        var picked: [Int] = []
        for _ in 0..<6 {
            let pick = try! #require(selector.pick(UpstreamRef(u), index: 0, context: context(), avoiding: TriedTargets(), now: now))
            picked.append(pick.target)
            selector.finished(UpstreamRef(u), index: 0, target: pick.target, outcome: .success, latency: .milliseconds(2), now: now)
        }
        #expect(!picked.contains(1))
        #expect(Set(picked) == [0, 2])
        #expect(metrics.render(version: "t").contains("sentinel_upstream_selections_total{upstream=\"api\",target=\"127.0.0.1:1\"} 3\n"))
        for target in ["127.0.0.1:1", "127.0.0.1:3"] { health.probeResult(upstream: "api", target: target, success: false, now: now) }
        #expect(selector.pick(UpstreamRef(u), index: 0, context: context(), avoiding: TriedTargets(), now: now) == nil)
    }

    @Test func openBreakerIsSkippedAndInFlightIsCounted() {
        let health = UpstreamHealth()
        let u = upstream(ports: [1, 2], breaker: CircuitBreaker.Configuration(failureThreshold: 1))
        health.configure([u], now: now)
        let selector = TargetSelector(health: health)
        let first = try! #require(selector.pick(UpstreamRef(u), index: 0, context: context(), avoiding: TriedTargets(), now: now))
        #expect(health.snapshot(now: now)[0].targets[first.target].inFlight == 1)
        #expect(selector.inFlight(upstreamIndex: 0, target: first.target) == 1)
        selector.finished(UpstreamRef(u), index: 0, target: first.target, outcome: .failure(.connectTimeout), latency: .seconds(1), now: now)
        var tried = TriedTargets()
        tried.insert(first.target)
        for _ in 0..<4 {
            let pick = try! #require(selector.pick(UpstreamRef(u), index: 0, context: context(), avoiding: tried, now: now))
            #expect(pick.target != first.target)
            selector.cancelled(UpstreamRef(u), index: 0, target: pick.target)
        }
        #expect(health.snapshot(now: now)[0].targets.map(\.inFlight) == [0, 0])
    }

    @Test func unmonitoredUpstreamsRoundRobinAndReloadRebuildsTheBalancer() {
        let selector = TargetSelector(health: UpstreamHealth())
        let u1 = upstream(ports: [1, 2], generation: 1)
        let picks = (0..<4).compactMap { _ in selector.pick(UpstreamRef(u1), index: 0, context: context(), avoiding: TriedTargets(), now: now)?.target }
        #expect(picks == [0, 1, 0, 1])
        // A reload with a third target: the new generation gets a new balancer over three targets.
        let u2 = upstream(ports: [1, 2, 3], generation: 2)
        let next = (0..<3).compactMap { _ in selector.pick(UpstreamRef(u2), index: 0, context: context(), avoiding: TriedTargets(), now: now)?.target }
        #expect(Set(next) == [0, 1, 2])
        // A request still on the old generation picks among its own two targets.
        let stale = selector.pick(UpstreamRef(u1), index: 0, context: context(), avoiding: TriedTargets(), now: now)
        #expect(stale.map { $0.target < 2 } == true)
    }

    @Test func hashKeyComesFromTheConfiguredSource() {
        var u = upstream(ports: [1])
        u.resilience.balancer.algorithm = .maglev
        u.resilience.hashKey = .header("X-User")
        let ctx = TargetSelector.context(
            for: UpstreamRef(u), clientIP: [127, 0, 0, 1], header: { $0 == "X-User" ? "alice" : nil }, cookie: { _ in nil }, path: "/p",
            random: 1, now: .zero)
        #expect(ctx.hashKey == Array("alice".utf8))
        u.resilience.balancer.algorithm = .roundRobin
        #expect(TargetSelector.context(for: UpstreamRef(u), clientIP: [1], header: { _ in "x" }, cookie: { _ in nil }, path: "/", random: 1, now: .zero).hashKey == nil)
    }
}

@Suite struct UpstreamsBuiltinTests {
    @Test func jsonPerUpstreamAndTarget() {
        let status = [
            UpstreamHealth.UpstreamStatus(
                id: "api",
                targets: [
                    .init(address: "127.0.0.1:1", weight: 3, health: .healthy, breaker: .halfOpen, ejected: false, inFlight: 2),
                    .init(
                        address: "[::1]:2", weight: 1, health: .unknown, breaker: .closed, ejected: true, inFlight: nil,
                        probeError: "grpc-status 12 UNIMPLEMENTED: \"no\""),
                ])
        ]
        let context = BuiltinHandlers.Context(traceID: "t", version: "v", unixSeconds: 0, upstreams: { status })
        let r = BuiltinHandlers.respond(.upstreams, to: .init(method: "GET", path: "/upstreams"), context: context)
        #expect(r.status == 200)
        #expect(r.header("cache-control") == "no-cache, no-store, must-revalidate")
        #expect(
            r.bodyString
                == "{\"upstreams\":[{\"id\":\"api\",\"targets\":["
                + "{\"address\":\"127.0.0.1:1\",\"weight\":3,\"health\":\"healthy\",\"circuit_breaker\":\"half_open\",\"ejected\":false,\"in_flight\":2,\"probe_error\":null},"
                + "{\"address\":\"[::1]:2\",\"weight\":1,\"health\":\"unknown\",\"circuit_breaker\":\"closed\",\"ejected\":true,\"in_flight\":null,"
                + "\"probe_error\":\"grpc-status 12 UNIMPLEMENTED: \\\"no\\\"\"}"
                + "]}],\"timestamp\":\"1970-01-01T00:00:00.000Z\"}")
    }

    /// Regression: series of targets and upstreams removed by a reload stayed exported forever.
    @Test func reloadRetiresSeriesOfRemovedTargetsAndUpstreams() {
        let t0 = Duration.seconds(100)
        let metrics = MetricsRegistry()
        let health = UpstreamHealth(metrics: metrics)
        let breaker = CircuitBreaker.Configuration(failureThreshold: 1, successThreshold: 1, timeout: .seconds(10))
        health.configure([upstream("api", ports: [1, 2], breaker: breaker), upstream("old", ports: [3])], now: t0)
        for target in ["127.0.0.1:1", "127.0.0.1:2"] {
            metrics.upstreamSelected(upstream: "api", target: target)
            #expect(health.admit(upstream: "api", target: target, now: t0))
            health.report(upstream: "api", target: target, outcome: .failure(.connectFailed), latency: .zero, now: t0)
        }
        metrics.upstreamSelected(upstream: "old", target: "127.0.0.1:3")
        metrics.upstreamRetry(upstream: "api")
        metrics.upstreamRetry(upstream: "old")
        metrics.upstreamFailure(upstream: "old", kind: .malformedResponseHead)
        let before = metrics.render(version: "t")
        #expect(before.contains("sentinel_circuit_breaker_trips_total{upstream=\"api\",target=\"127.0.0.1:2\"} 1"))
        #expect(before.contains("sentinel_upstream_retries_total{upstream=\"old\"} 1"))

        // The reload drops target 2 of "api" and the whole of "old".
        health.configure([upstream("api", ports: [1], breaker: breaker)], now: t0)
        // Late events for what is gone (an exchange finishing on the old snapshot) record nothing.
        metrics.breakerTripped(upstream: "api", target: "127.0.0.1:2")
        metrics.upstreamEjected(upstream: "old", target: "127.0.0.1:3")
        metrics.setUpstreamTarget(upstream: "api", target: "127.0.0.1:2", healthy: false, breaker: .open)
        metrics.upstreamSelected(upstream: "old", target: "127.0.0.1:3")
        metrics.upstreamRetry(upstream: "old")
        metrics.upstreamFailure(upstream: "old", kind: .responseTimeout)
        // The remaining target keeps counting from where it was.
        metrics.upstreamSelected(upstream: "api", target: "127.0.0.1:1")
        metrics.upstreamRetry(upstream: "api")
        let after = metrics.render(version: "t")
        #expect(!after.contains("127.0.0.1:2"))
        #expect(!after.contains("upstream=\"old\""))
        #expect(after.contains("sentinel_upstream_selections_total{upstream=\"api\",target=\"127.0.0.1:1\"} 2"))
        #expect(after.contains("sentinel_circuit_breaker_trips_total{upstream=\"api\",target=\"127.0.0.1:1\"} 1"))
        #expect(after.contains("sentinel_upstream_retries_total{upstream=\"api\"} 2"))
        // A target added back later starts new series.
        health.configure([upstream("api", ports: [1, 2], breaker: breaker)], now: t0)
        let again = metrics.render(version: "t")
        #expect(again.contains("sentinel_upstream_target_healthy{upstream=\"api\",target=\"127.0.0.1:2\"} 1"))
        #expect(!again.contains("sentinel_circuit_breaker_trips_total{upstream=\"api\",target=\"127.0.0.1:2\"}"))
    }

    @Test func noUpstreamIs503() {
        let context = BuiltinHandlers.Context(traceID: "t", version: "v", unixSeconds: 0)
        let r = BuiltinHandlers.respond(.upstreams, to: .init(method: "GET", path: "/upstreams"), context: context)
        #expect(r.status == 503)
        #expect(r.bodyString == "{\"error\":\"503 Service Unavailable\",\"trace_id\":\"t\"}")
    }
}
