import SentinelMaster
import Testing

/// The master's merge of worker reports, without processes.
@Suite struct ClusterViewTests {
    static func report(requests: Int, active: Int, healthy: Int = 1, bucket: Int = 0) -> String {
        """
        # HELP sentinel_up Whether the proxy is up.
        # TYPE sentinel_up gauge
        sentinel_up 1
        # HELP sentinel_requests_total Requests handled.
        # TYPE sentinel_requests_total counter
        sentinel_requests_total{route="a",method="GET",status="200"} \(requests)
        # TYPE sentinel_request_duration_seconds histogram
        sentinel_request_duration_seconds_bucket{route="a",method="GET",le="0.001"} \(bucket)
        sentinel_request_duration_seconds_sum{route="a",method="GET"} 0.5
        # TYPE sentinel_active_requests gauge
        sentinel_active_requests \(active)
        # TYPE sentinel_upstream_target_healthy gauge
        sentinel_upstream_target_healthy{upstream="u",target="t"} \(healthy)

        """
    }

    static func feed(_ view: inout ClusterView, pid: Int32, _ text: String) -> [ClusterView.Send] {
        for line in text.split(separator: "\n") { _ = view.received(.snapshotLine(String(line)), from: pid, workers: { [] }) }
        return view.received(.snapshotEnd, from: pid, workers: { [] })
    }

    @Test func mergesByFamilyType() {
        var a = MetricsText(parsing: Self.report(requests: 3, active: 1, healthy: 1, bucket: 2))
        a.merge(MetricsText(parsing: Self.report(requests: 4, active: 2, healthy: 0, bucket: 5)))
        let text = a.render()
        #expect(text.contains(#"sentinel_requests_total{route="a",method="GET",status="200"} 7"#))
        #expect(text.contains(#"le="0.001"} 7"#))
        #expect(text.contains(#"sentinel_request_duration_seconds_sum{route="a",method="GET"} 1"#))
        #expect(text.contains("sentinel_active_requests 3\n"))
        #expect(text.contains("sentinel_up 1\n"))
        #expect(text.contains(#"target="t"} 0"#))
        #expect(text.components(separatedBy: "# TYPE sentinel_requests_total counter").count == 2)
    }

    /// Every worker says an upstream runs without verification: the instance says so once (1), not N.
    @Test func verifyDisabledGaugeIsNotSummedOverWorkers() {
        let worker = """
            # TYPE sentinel_upstream_tls_verify_disabled gauge
            sentinel_upstream_tls_verify_disabled{upstream="lax"} 1

            """
        var a = MetricsText(parsing: worker)
        a.merge(MetricsText(parsing: worker))
        a.merge(MetricsText(parsing: worker))
        #expect(a.render().contains(#"sentinel_upstream_tls_verify_disabled{upstream="lax"} 1"# + "\n"), "\(a.render())")
    }

    @Test func exitedWorkersKeepTheirCountersButNotTheirGauges() {
        var view = ClusterView()
        _ = Self.feed(&view, pid: 10, Self.report(requests: 5, active: 2))
        _ = Self.feed(&view, pid: 11, Self.report(requests: 1, active: 1))
        #expect(view.aggregate.total("sentinel_requests_total") == 6)
        _ = Self.feed(&view, pid: 10, Self.report(requests: 9, active: 0))
        _ = view.closed(10, workers: { [] })
        #expect(view.aggregate.total("sentinel_requests_total") == 10)
        #expect(view.aggregate.total("sentinel_active_requests") == 1)
        _ = view.closed(11, workers: { [] })
        #expect(view.aggregate.total("sentinel_requests_total") == 10)
    }

    /// Regression: counters of upstreams and targets a reload removed stayed in the master's
    /// retired accumulator (and so in every scrape) forever.
    @Test func retiredSeriesOfRemovedUpstreamsAndTargetsArePruned() {
        func rows(_ view: inout ClusterView, pid: Int32, _ targets: [(String, String)]) {
            for (u, t) in targets {
                let row = UpstreamRow(upstream: u, address: t, weight: 1, health: "healthy", breaker: "closed", ejected: false, inFlight: 0)
                _ = view.received(.upstreamRow(row), from: pid, workers: { [] })
            }
        }
        let old = """
            # TYPE sentinel_upstream_selections_total counter
            sentinel_upstream_selections_total{upstream="u",target="h:1"} 5
            sentinel_upstream_selections_total{upstream="u",target="h:2"} 7
            sentinel_upstream_selections_total{upstream="gone",target="g:1"} 2
            # TYPE sentinel_upstream_retries_total counter
            sentinel_upstream_retries_total{upstream="u"} 1
            sentinel_upstream_retries_total{upstream="gone"} 3
            # TYPE sentinel_requests_total counter
            sentinel_requests_total{route="a",method="GET",status="200"} 9

            """
        var view = ClusterView()
        rows(&view, pid: 10, [("u", "h:1"), ("u", "h:2"), ("gone", "g:1")])
        _ = Self.feed(&view, pid: 10, old)
        _ = view.closed(10, workers: { [] })
        // Nothing reports any more: nothing is pruned (a lone crashed worker keeps its counters).
        #expect(view.aggregate.total("sentinel_upstream_selections_total") == 14)
        // The new generation has only u/h:1.
        rows(&view, pid: 11, [("u", "h:1")])
        let fresh = "# TYPE sentinel_requests_total counter\n" + #"sentinel_requests_total{route="a",method="GET",status="200"} 1"# + "\n"
        _ = Self.feed(&view, pid: 11, fresh)
        let text = view.aggregate.render()
        #expect(text.contains(#"sentinel_upstream_selections_total{upstream="u",target="h:1"} 5"#))
        #expect(!text.contains(#"target="h:2""#))
        #expect(!text.contains("gone"))
        #expect(text.contains(#"sentinel_upstream_retries_total{upstream="u"} 1"#))
        #expect(view.aggregate.total("sentinel_requests_total") == 10)
    }

    @Test func labelValuesAreUnescaped() {
        // Exposition escapes: \\ for a backslash, \" for a quote, \n for a newline.
        #expect(MetricsText.label("upstream", in: #"x{upstream="a\"b",target="c\\d"}"#) == #"a"b"#)
        #expect(MetricsText.label("target", in: #"x{upstream="a\"b",target="c\\d"}"#) == #"c\d"#)
        #expect(MetricsText.label("upstream", in: "x_total 3") == nil)
        #expect(MetricsText.label("upstream", in: #"x{route="r"}"#) == nil)
    }

    @Test func aPullCollectsFromEveryWorkerThenAnswers() {
        var view = ClusterView()
        let workers = [
            ClusterView.WorkerInfo(pid: 10, generation: 1, slot: 0, uptimeSeconds: 1, state: "live"),
            ClusterView.WorkerInfo(pid: 11, generation: 1, slot: 1, uptimeSeconds: 1, state: "live"),
        ]
        let asks = view.received(.pull(id: 7, kind: "metrics"), from: 11, workers: { workers })
        #expect(asks.map(\.pid) == [10, 11] && asks.allSatisfy { $0.line == "COLLECT\n" })
        #expect(Self.feed(&view, pid: 10, Self.report(requests: 2, active: 0)).isEmpty)
        for line in Self.report(requests: 3, active: 0).split(separator: "\n") {
            _ = view.received(.snapshotLine(String(line)), from: 11, workers: { workers })
        }
        let answer = view.received(.snapshotEnd, from: 11, workers: { workers })
        #expect(answer.allSatisfy { $0.pid == 11 })
        #expect(answer.last?.line == "AGG-END 7\n")
        #expect(answer.contains { $0.line.contains(#"status="200"} 5"#) })
        #expect(view.expired(requester: 11, id: 7, workers: { workers }).isEmpty)
    }

    @Test func verdictsAreRelayedAndReplayedToNewWorkers() {
        var view = ClusterView()
        let workers = [
            ClusterView.WorkerInfo(pid: 10, generation: 1, slot: 0, uptimeSeconds: 1, state: "live"),
            ClusterView.WorkerInfo(pid: 11, generation: 1, slot: 1, uptimeSeconds: 1, state: "live"),
        ]
        for ok in [true, false, false] {
            let relayed = view.received(.probe(upstream: "u", target: "t:1", success: ok), from: 10, workers: { workers })
            #expect(relayed.map(\.pid) == [11])
        }
        let replay = view.replay(to: 12).map(\.line)
        #expect(replay == ["PROBE ok u\tt:1\n", "PROBE fail u\tt:1\n", "PROBE fail u\tt:1\n"])
    }

    @Test func upstreamRowsOfAllWorkersMerge() throws {
        var view = ClusterView()
        let workers = [ClusterView.WorkerInfo(pid: 10, generation: 1, slot: 0, uptimeSeconds: 1, state: "live")]
        let a = UpstreamRow(upstream: "u", address: "h:1", weight: 1, health: "healthy", breaker: "closed", ejected: false, inFlight: 2)
        var b = a
        b.breaker = "open"
        b.inFlight = 3
        for (pid, row) in [(Int32(10), a), (11, b)] {
            let message = try #require(ClusterWorkerMessage(line: ClusterWorkerMessage.upstreamRow(row).line.dropLast()[...]))
            _ = view.received(message, from: pid, workers: { workers })
            _ = view.received(.snapshotEnd, from: pid, workers: { workers })
        }
        _ = view.received(.pull(id: 1, kind: "upstreams"), from: 10, workers: { [] })
        let lines = view.expired(requester: 10, id: 1, workers: { [] }).map(\.line)
        let body = lines.dropLast().map { String($0.split(separator: " ", maxSplits: 2)[2].dropLast()) }.joined()
        #expect(body == #""upstreams":[{"id":"u","targets":[{"address":"h:1","weight":1,"health":"healthy","circuit_breaker":"open","ejected":false,"in_flight":5}]}]"#)
    }

    @Test func linesRoundTrip() {
        let messages: [ClusterWorkerMessage] = [.snapshotLine("a b"), .snapshotEnd, .pull(id: 3, kind: "status"), .probe(upstream: "u 1", target: "h:1", success: false)]
        for m in messages { #expect(ClusterWorkerMessage(line: m.line.dropLast()[...]) == m) }
        let back: [ClusterMasterMessage] = [.collect, .answerLine(id: 4, "x y"), .answerEnd(id: 4), .probe(upstream: "u", target: "t", success: true)]
        for m in back { #expect(ClusterMasterMessage(line: m.line.dropLast()[...]) == m) }
    }
}
