import SentinelTestSupport
import Foundation
import Testing

/// The lifecycle and health log of a running `sentinel-stack`: one JSON line per transition per
/// instance, each with `ts`, `level`, `role`, `pid`, `event` and typed fields.
@Suite(.serialized) struct StackLogTests {
    static func objects(_ stack: StackProcess, _ event: String) -> [[String: Any]] {
        stack.events(event).compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    /// Regression: with two workers, every active-health transition was logged once per worker
    /// (each applied the prober's verdict and logged it), without `ts`, `role` or `pid`.
    @Test func aHealthTransitionIsLoggedOncePerInstanceWithTsRoleAndPid() throws {
        let bad = try ScriptedUpstream(probeStatus: 500)
        let good = try ScriptedUpstream(probeStatus: 200)
        let metricsPort = try freePort()
        let upstreams = ClusterTests.probedUpstream(bad.port, good.port, check: #""http" { path "/hc" }"#)
        let stack = try StackProcess { ClusterTests.config(port: $0, dir: $1, metricsPort: metricsPort, upstreams: upstreams) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(stack.wait { Self.objects(stack, "upstream_health_changed").count >= 2 }, "log: \(stack.text)")
        // Two more probes of each target: any duplicate line from another worker has had its chance.
        let probes = bad.probes
        #expect(stack.wait { bad.probes >= probes + 2 })
        let lines = Self.objects(stack, "upstream_health_changed")
        let badLines = lines.filter { $0["target"] as? String == "127.0.0.1:\(bad.port)" }
        let goodLines = lines.filter { $0["target"] as? String == "127.0.0.1:\(good.port)" }
        #expect(badLines.count == 1, "\(stack.events("upstream_health_changed"))")
        #expect(goodLines.count == 1, "\(stack.events("upstream_health_changed"))")
        let line = try #require(badLines.first)
        #expect(line["to"] as? String == "unhealthy")
        #expect(line["from"] as? String == "unknown")
        #expect(line["level"] as? String == "warn")
        #expect(line["role"] as? String == "worker")
        #expect(line["slot"] as? Int == 0, "the prober")
        #expect(line["generation"] as? Int == 1)
        #expect((line["pid"] as? Int ?? 0) > 1)
        let ts = try #require(line["ts"] as? String)
        #expect(ts.count == 24 && ts.hasSuffix("Z") && ts.contains("T"), "\(ts)")
        #expect(goodLines.first?["to"] as? String == "healthy")
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    /// Lifecycle lines carry typed values: numbers, booleans and lists of pids, never their text.
    @Test func lifecycleLinesHaveTypedFieldsAndTheFixedLeadingFields() throws {
        let stack = try StackProcess(workers: 2)
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
        let master = try #require(Self.objects(stack, "master_started").first)
        #expect(master["role"] as? String == "master")
        #expect(master["pid"] as? Int == Int(stack.process.processIdentifier))
        let spawned = Self.objects(stack, "worker_spawned")
        #expect(spawned.count == 2)
        #expect(spawned.allSatisfy { $0["worker_pid"] is Int && $0["slot"] is Int && $0["generation"] as? Int == 1 })
        let started = try #require(Self.objects(stack, "started").first)
        #expect((started["pids"] as? [Int])?.count == 2)
        let stopped = try #require(Self.objects(stack, "stopped").first)
        #expect(stopped["clean"] as? Bool == true)
        let drained = Self.objects(stack, "worker_drained")
        #expect(drained.count == 2 && drained.allSatisfy { $0["clean"] as? Bool == true })
        let draining = Self.objects(stack, "worker_draining")
        #expect(draining.count == 2)
        #expect(draining.allSatisfy { $0["role"] as? String == "worker" && $0["slot"] is Int && $0["pid"] is Int })
        // Every line of every process: one JSON object with the leading fields in order.
        for raw in stack.text.split(separator: "\n") {
            #expect(raw.hasPrefix(#"{"ts":""#), "\(raw)")
            let object = try #require((try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any], "\(raw)")
            #expect(object["level"] is String && object["role"] is String && object["pid"] is Int && object["event"] is String)
            let order = ["\"ts\":", "\"level\":", "\"role\":", "\"pid\":", "\"event\":"].compactMap { raw.range(of: $0)?.lowerBound }
            #expect(order.count == 5 && order == order.sorted(), "leading fields in order: \(raw)")
        }
    }
}
