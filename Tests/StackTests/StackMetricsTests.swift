import SentinelTestSupport
import Foundation
import SentinelMaster
import Testing

/// Per-process and reload metrics of `sentinel-stack`: the master's merge (pure) and a scrape of a
/// running stack.
@Suite(.serialized) struct StackMetricsTests {
    static func value(_ text: String, _ key: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(key + " ") { return Double(line.dropFirst(key.count + 1)) }
        return nil
    }

    static func report(cpu: Double, rss: Double, requests: Int, targetErrors: Int) -> String {
        """
        # TYPE sentinel_requests_total counter
        sentinel_requests_total{route="a",method="GET",status="200"} \(requests)
        # TYPE sentinel_upstream_connect_errors_total counter
        sentinel_upstream_connect_errors_total{upstream="u",target="t:1",reason="refused"} \(targetErrors)
        # TYPE sentinel_upstream_first_byte_seconds histogram
        sentinel_upstream_first_byte_seconds_bucket{upstream="u",target="t:1",le="0.1"} \(requests)
        sentinel_upstream_first_byte_seconds_count{upstream="u",target="t:1"} \(requests)
        # HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
        # TYPE process_cpu_seconds_total counter
        process_cpu_seconds_total \(cpu)
        # TYPE process_resident_memory_bytes gauge
        process_resident_memory_bytes \(rss)

        """
    }

    @discardableResult
    static func feed(_ view: inout ClusterView, pid: Int32, _ text: String, _ workers: [ClusterView.WorkerInfo]) -> [ClusterView.Send] {
        for line in text.split(separator: "\n") { _ = view.received(.snapshotLine(String(line)), from: pid, workers: { workers }) }
        return view.received(.snapshotEnd, from: pid, workers: { workers })
    }

    static func worker(_ pid: Int32, generation: Int, slot: Int) -> ClusterView.WorkerInfo {
        .init(pid: pid, generation: generation, slot: slot, uptimeSeconds: 1, state: "live")
    }

    /// Per-target counters and histograms are summed over workers; process families are kept per
    /// worker slot, the newer generation's worker wins its slot, and none of them is retired.
    @Test func processFamiliesStayPerSlotWhileTargetSeriesAreSummed() {
        var view = ClusterView()
        // pid 30 (generation 2, slot 0) sorts before pid 40 (generation 1, slot 0): generation decides.
        let workers = [Self.worker(40, generation: 1, slot: 0), Self.worker(41, generation: 1, slot: 1), Self.worker(30, generation: 2, slot: 0)]
        Self.feed(&view, pid: 40, Self.report(cpu: 5, rss: 100, requests: 3, targetErrors: 1), workers)
        Self.feed(&view, pid: 41, Self.report(cpu: 7, rss: 200, requests: 4, targetErrors: 2), workers)
        Self.feed(&view, pid: 30, Self.report(cpu: 1, rss: 300, requests: 5, targetErrors: 4), workers)
        let text = view.aggregate.render()
        #expect(Self.value(text, #"sentinel_upstream_connect_errors_total{upstream="u",target="t:1",reason="refused"}"#) == 7)
        #expect(Self.value(text, #"sentinel_upstream_first_byte_seconds_count{upstream="u",target="t:1"}"#) == 12)
        #expect(Self.value(text, #"process_cpu_seconds_total{role="worker",slot="0"}"#) == 1, "generation 2 holds slot 0")
        #expect(Self.value(text, #"process_resident_memory_bytes{role="worker",slot="0"}"#) == 300)
        #expect(Self.value(text, #"process_cpu_seconds_total{role="worker",slot="1"}"#) == 7)
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("process_cpu_seconds_total ") }, "no unlabelled process series")
        #expect(text.components(separatedBy: "# TYPE process_cpu_seconds_total counter").count == 2, "one header per family")
        // The draining worker exits: its counters stay, its process series go.
        _ = view.closed(40, workers: { workers })
        _ = view.closed(30, workers: { workers })
        let after = view.aggregate.render()
        #expect(Self.value(after, #"sentinel_upstream_connect_errors_total{upstream="u",target="t:1",reason="refused"}"#) == 7)
        #expect(Self.value(after, #"process_cpu_seconds_total{role="worker",slot="0"}"#) == nil)
        #expect(Self.value(after, #"process_cpu_seconds_total{role="worker",slot="1"}"#) == 7)
    }

    /// The master's own families join the answer under the same headers.
    @Test func theMetricsAnswerCarriesTheMastersFamilies() {
        var view = ClusterView()
        view.masterMetrics = { "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total{role=\"master\"} 2\n" }
        let workers = [Self.worker(40, generation: 1, slot: 0)]
        Self.feed(&view, pid: 40, Self.report(cpu: 5, rss: 100, requests: 3, targetErrors: 1), workers)
        let sends = view.received(.pull(id: 1, kind: "metrics"), from: 40, workers: { workers })
        #expect(sends.count == 1)  // COLLECT to the live worker
        // The collected report completes the pull: the answer follows at once.
        let answer = Self.feed(&view, pid: 40, Self.report(cpu: 6, rss: 100, requests: 3, targetErrors: 1), workers)
        let body = answer.map { $0.line }.joined()
        #expect(body.contains(#"process_cpu_seconds_total{role=\"master\"} 2"#) || body.contains(#"process_cpu_seconds_total{role="master"} 2"#), "\(body)")
        #expect(body.contains(#"slot=\"0\"} 6"#) || body.contains(#"slot="0"} 6"#), "\(body)")
    }

    static func config(port: Int, dir: String, metricsPort: Int, upstreamPort: Int) -> String {
        """
        \(StackProcess.prelude(workers: 1, port: port, dir: dir))
        routes {
            route "app" {
                matches { path-prefix "/" }
                upstream "app"
            }
        }
        upstreams {
            upstream "app" {
                target "127.0.0.1:\(upstreamPort)"
            }
        }
        observability {
            metrics { address "127.0.0.1:\(metricsPort)" }
        }
        """
    }

    /// A scrape of a running stack has the master's and the worker's process series, per-target
    /// connect errors of a refusing target, and reload gauges that follow a failed and then a
    /// successful `sentinel-stack reload`.
    @Test func aStackScrapeHasProcessTargetAndReloadMetrics() throws {
        let metricsPort = try freePort()
        let deadPort = try freePort()
        let stack = try StackProcess { Self.config(port: $0, dir: $1, metricsPort: metricsPort, upstreamPort: deadPort) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let answer = try KeepAliveClient(port: stack.port).get("/x")
        #expect(answer.status == 503)
        let first = try ClusterTests.scrape(metricsPort)
        let target = #"upstream="app",target="127.0.0.1:\#(deadPort)""#
        #expect((Self.value(first, #"sentinel_upstream_connect_errors_total{\#(target),reason="refused"}"#) ?? 0) >= 1, "\(first)")
        #expect(Self.value(first, #"sentinel_upstream_target_healthy{\#(target)}"#) == 0)
        let now = Date().timeIntervalSince1970
        for role in [#"role="master""#, #"role="worker",slot="0""#] {
            let start = try #require(Self.value(first, "process_start_time_seconds{\(role)}"), "\(role) in \(first)")
            #expect(start <= now + 1 && start > now - 3600)
            #expect((Self.value(first, "process_resident_memory_bytes{\(role)}") ?? 0) > 1_000_000)
            #expect((Self.value(first, "process_open_fds{\(role)}") ?? 0) > 2)
        }
        #expect(Self.value(first, "sentinel_config_last_reload_successful") == 1)
        let startedAt = try #require(Self.value(first, "sentinel_config_last_reload_success_timestamp_seconds"))

        // A broken configuration: the reload fails, the old generation serves, the gauge says so.
        let good = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        try (good + "\nnot-a-section {}\n").write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        #expect(try stack.stack("reload").status != 0)
        let failed = try ClusterTests.scrape(metricsPort)
        #expect(Self.value(failed, "sentinel_config_last_reload_successful") == 0)
        #expect(Self.value(failed, "sentinel_config_last_reload_success_timestamp_seconds") == startedAt)

        try good.write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let r = try stack.stack("reload")
        #expect(r.status == 0, "reload: \(r.stderr)")
        #expect(stack.waitForEvent("generation_retired"))
        let reloaded = try ClusterTests.scrape(metricsPort)
        #expect(Self.value(reloaded, "sentinel_config_last_reload_successful") == 1)
        #expect((Self.value(reloaded, "sentinel_config_last_reload_success_timestamp_seconds") ?? 0) > startedAt)
        // Counters of the retired generation's worker stay; the process series is the new worker's.
        #expect((Self.value(reloaded, #"sentinel_upstream_connect_errors_total{\#(target),reason="refused"}"#) ?? 0) >= 1)
        #expect(reloaded.components(separatedBy: #"process_start_time_seconds{role="worker",slot="0"}"#).count == 2)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }
}
