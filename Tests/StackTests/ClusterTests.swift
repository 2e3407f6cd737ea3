import SentinelTestSupport
import Foundation
import Synchronization
import Testing

/// One view from many processes: metrics, status, access logs and health checks of a
/// `sentinel-stack` with two workers, end to end against the built binary.
@Suite(.serialized) struct ClusterTests {
    static func config(
        port: Int, dir: String, metricsPort: Int, extraRoutes: String = "", upstreams: String = "", dataPath: String = "nio"
    ) -> String {
        """
        \(StackProcess.prelude(workers: 2, port: port, dir: dir, dataPath: dataPath))
        routes {
            route "health" {
                matches { path "/health" }
                builtin-handler "health"
            }
            route "status" {
                matches { path "/status" }
                builtin-handler "status"
            }
            \(extraRoutes)
        }
        \(upstreams)
        observability {
            metrics { address "127.0.0.1:\(metricsPort)" }
            logging {
                access-log { file "\(dir)/access.log" }
            }
        }
        """
    }

    /// `upstream "app"` with two targets and an active health check of type `check`, fast enough
    /// for tests (1 s interval and timeout, thresholds of 1).
    static func probedUpstream(_ first: Int, _ second: Int, check: String) -> String {
        """
        upstreams {
            upstream "app" {
                target "127.0.0.1:\(first)"
                target "127.0.0.1:\(second)"
                health-check { type \(check); interval-secs 1; timeout-secs 1; unhealthy-threshold 1; healthy-threshold 1 }
            }
        }
        """
    }

    /// `n` GETs of `path` from `threads` clients, each opening a new connection every
    /// `reconnectEvery` requests (so the kernel spreads them over both workers' sockets). Returns
    /// the 200 answers.
    ///
    /// Across a reload, use `reconnectEvery: nil` (connections opened before, reopened only when
    /// the server says `Connection: close`): while two generations listen on one socket, both are
    /// woken for a connection and the loser's accept finds nothing, which a debug build of NIO
    /// asserts against (BaseSocketChannel.readable0); release builds are unaffected.
    static func load(port: Int, path: String = "/health", n: Int, threads: Int = 8, reconnectEvery: Int? = 5) -> Int {
        let ok = Atomic(0)
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            Thread {
                var client = KeepAliveClient(port: port)
                for i in stride(from: t, to: n, by: threads) {
                    if let every = reconnectEvery, (i / threads) % every == 0, i >= threads { client = KeepAliveClient(port: port) }
                    if (try? client.get(path).status) == 200 { ok.add(1, ordering: .relaxed) }
                }
                group.leave()
            }.start()
        }
        group.wait()
        return ok.load(ordering: .relaxed)
    }

    /// Sum of `sentinel_requests_total`, without the scrapes' own series when `skipScrapes`.
    static func requestsTotal(_ text: String, skipScrapes: Bool = false) -> Int {
        text.split(separator: "\n").filter { $0.hasPrefix("sentinel_requests_total{") }
            .filter { !skipScrapes || !$0.contains(#"route="_metrics""#) }
            .compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    static func scrape(_ port: Int) throws -> String {
        let r = try KeepAliveClient(port: port).get("/metrics")
        #expect(r.status == 200)
        return r.body
    }

    /// On both data paths (`system { data-path }`).
    @Test(arguments: ["nio", "reactor"]) func scrapeCountsEveryRequestOfBothWorkers(dataPath: String) throws {
        let metricsPort = try freePort()
        let stack = try StackProcess { Self.config(port: $0, dir: $1, metricsPort: metricsPort, dataPath: dataPath) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let n = 400
        #expect(Self.load(port: stack.port, n: n) == n)
        let first = try Self.scrape(metricsPort)
        #expect(Self.requestsTotal(first) == n, "\(first)")
        #expect(first.contains(#"sentinel_requests_total{route="health",method="GET",status="200"} \#(n)"#))
        #expect(first.contains("sentinel_up 1\n"))
        // Whichever worker answers, the same numbers (plus the earlier scrapes).
        for _ in 0..<6 { #expect(Self.requestsTotal(try Self.scrape(metricsPort), skipScrapes: true) == n) }
        // Both workers served: the status route lists them with their own counts.
        let status = try KeepAliveClient(port: stack.port).get("/status").body
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        let workers = try #require(json["workers"] as? [[String: Any]])
        #expect(workers.count == 2)
        #expect(workers.allSatisfy { ($0["requests"] as? Int ?? 0) > 0 }, "\(status)")
        #expect(json["generation"] as? Int == 1)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    /// On both data paths (`system { data-path }`).
    @Test(arguments: ["nio", "reactor"]) func countersSurviveAReloadAndKeepWhatTheDrainingGenerationFinished(dataPath: String) throws {
        let metricsPort = try freePort()
        let stack = try StackProcess { Self.config(port: $0, dir: $1, metricsPort: metricsPort, dataPath: dataPath) }
        #expect(stack.waitForEvent("started"))
        #expect(Self.load(port: stack.port, n: 200) == 200)
        let before = Self.requestsTotal(try Self.scrape(metricsPort), skipScrapes: true)
        #expect(before == 200)
        // Load runs across the reload on connections opened before it (see `load`): the old
        // generation finishes some requests while it drains, the new one the rest.
        let stop = Atomic(false), ok = Atomic(0), failed = Atomic(0), warm = Atomic(0), finished = Atomic(0)
        let port = stack.port
        for _ in 0..<4 {
            Thread {
                let client = KeepAliveClient(port: port)
                var first = true
                while !stop.load(ordering: .relaxed) {
                    if (try? client.get("/health").status) == 200 { ok.add(1, ordering: .relaxed) } else { failed.add(1, ordering: .relaxed) }
                    if first { warm.add(1, ordering: .relaxed); first = false }
                }
                finished.add(1, ordering: .relaxed)
            }.start()
        }
        #expect(stack.wait { warm.load(ordering: .relaxed) == 4 })
        let r = try stack.stack("reload")
        #expect(r.status == 0, "reload: \(r.stderr)")
        #expect(stack.waitForEvent("generation_retired"))
        // Scraped once the old generation is gone (a scrape is a new connection: see `load`).
        let retired = Self.requestsTotal(try Self.scrape(metricsPort), skipScrapes: true)
        #expect(retired > before)
        let mark = ok.load(ordering: .relaxed)
        #expect(stack.wait { ok.load(ordering: .relaxed) > mark + 50 })
        stop.store(true, ordering: .relaxed)
        #expect(stack.wait { finished.load(ordering: .relaxed) == 4 })
        #expect(failed.load(ordering: .relaxed) == 0)
        let total = 200 + ok.load(ordering: .relaxed)
        let after = Self.requestsTotal(try Self.scrape(metricsPort), skipScrapes: true)
        #expect(after == total, "scraped \(after), completed \(total)")
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func aKilledWorkersReportedCountersStay() throws {
        let metricsPort = try freePort()
        let stack = try StackProcess { Self.config(port: $0, dir: $1, metricsPort: metricsPort) }
        #expect(stack.waitForEvent("started"))
        #expect(Self.load(port: stack.port, n: 300) == 300)
        // The scrape collects a fresh report from every worker, so the master holds all 300.
        #expect(Self.requestsTotal(try Self.scrape(metricsPort)) == 300)
        let pids = try stack.livePids()
        #expect(pids.count == 2)
        kill(pids[0], SIGKILL)
        #expect(stack.waitForEvent("worker_ready", count: 3), "log: \(stack.text)")
        #expect(Self.requestsTotal(try Self.scrape(metricsPort), skipScrapes: true) == 300)
        #expect(Self.load(port: stack.port, n: 100) == 100)
        #expect(Self.requestsTotal(try Self.scrape(metricsPort), skipScrapes: true) == 400)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    static func lines(_ path: String) -> [Substring] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            .map { $0 }
    }

    static func allJSON(_ lines: [Substring]) -> Bool {
        lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] }
    }

    @Test func accessLogOfBothWorkersHasWholeLinesAndRotatesOnUSR1() throws {
        let metricsPort = try freePort()
        let stack = try StackProcess { Self.config(port: $0, dir: $1, metricsPort: metricsPort) }
        #expect(stack.waitForEvent("started"))
        let path = stack.dir + "/access.log"
        let n = 1000
        #expect(Self.load(port: stack.port, n: n) == n)
        #expect(stack.wait { Self.lines(path).count >= n })
        let first = Self.lines(path)
        #expect(first.count == n)
        #expect(Self.allJSON(first), "an interleaved or torn line")
        // Rotation: rename, USR1 to the master, new lines go to a new file.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        kill(stack.process.processIdentifier, SIGUSR1)
        #expect(stack.waitForEvent("logs_reopened"))
        var sent = n
        #expect(stack.wait {
            sent += Self.load(port: stack.port, n: 20, threads: 4)
            return !Self.lines(path).isEmpty
        })
        sent += Self.load(port: stack.port, n: 200)
        #expect(stack.wait { Self.lines(path).count + Self.lines(path + ".1").count >= sent })
        let rotated = Self.lines(path + ".1"), fresh = Self.lines(path)
        #expect(rotated.count + fresh.count == sent)
        #expect(Self.allJSON(rotated) && Self.allJSON(fresh))
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    /// The same path for `grpc` checks: one prober (slot 0) for the instance, verdicts relayed to every worker.
    @Test func grpcChecksAreProbedOncePerInstanceAndEveryWorkerActsOnThem() throws {
        let bad = try ScriptedUpstream(grpcServingStatus: 2)
        let good = try ScriptedUpstream(grpcServingStatus: 1)
        let metricsPort = try freePort()
        let upstreams = Self.probedUpstream(bad.port, good.port, check: #""grpc" { service "app.v1.App" }"#)
        let route = #"route "app" { matches { path-prefix "/app" }; upstream "app" }"#
        let stack = try StackProcess { Self.config(port: $0, dir: $1, metricsPort: metricsPort, extraRoutes: route, upstreams: upstreams) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let marked = #"sentinel_upstream_target_healthy{upstream="app",target="127.0.0.1:\#(bad.port)"} 0"#
        #expect(stack.wait { bad.probes >= 1 && ((try? Self.scrape(metricsPort)) ?? "").contains(marked) }, "log: \(stack.text)")
        #expect(stack.wait { stack.text.contains("\"reason\":\"health status NOT_SERVING\"") }, "log: \(stack.text)")
        let before = bad.requests
        #expect(Self.load(port: stack.port, path: "/app/x", n: 60) == 60)
        #expect(bad.requests == before)
        #expect(good.requests >= 60)
        Self.expectOneProbePerInterval(bad, stack)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    /// Probed once per 1 s interval for the instance, not once per worker: three more probes take
    /// at least two intervals (with a prober per worker, two workers would send them in about one).
    /// Synchronised on the probes themselves, not on a sleep.
    static func expectOneProbePerInterval(_ upstream: ScriptedUpstream, _ stack: StackProcess) {
        let start = upstream.probes, began = ContinuousClock.now
        #expect(stack.wait(timeout: .seconds(15)) { upstream.probes >= start + 3 }, "probes stopped")
        let elapsed = ContinuousClock.now - began
        #expect(elapsed >= .milliseconds(1800), "3 probes in \(elapsed) at a 1 s interval: more than one prober")
    }

    @Test func oneProberPerInstanceAndEveryWorkerAvoidsTheUnhealthyTarget() throws {
        let bad = try ScriptedUpstream(probeStatus: 500)
        let good = try ScriptedUpstream(probeStatus: 200)
        let metricsPort = try freePort()
        let upstreams = Self.probedUpstream(bad.port, good.port, check: #""http" { path "/hc" }"#)
        let route = #"route "app" { matches { path-prefix "/app" }; upstream "app" }"#
            + "\n" + #"route "upstreams" { matches { path "/upstreams" }; builtin-handler "upstreams" }"#
        let stack = try StackProcess { Self.config(port: $0, dir: $1, metricsPort: metricsPort, extraRoutes: route, upstreams: upstreams) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let marked = #"sentinel_upstream_target_healthy{upstream="app",target="127.0.0.1:\#(bad.port)"} 0"#
        #expect(stack.wait { bad.probes >= 1 && ((try? Self.scrape(metricsPort)) ?? "").contains(marked) }, "log: \(stack.text)")
        // The upstreams route shows the instance: both targets, the bad one unhealthy, whichever worker answers.
        for _ in 0..<4 {
            let body = try KeepAliveClient(port: stack.port).get("/upstreams").body
            let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "\(body)")
            let targets = try #require((json["upstreams"] as? [[String: Any]])?.first?["targets"] as? [[String: Any]])
            #expect(targets.count == 2)
            #expect(targets.first { $0["address"] as? String == "127.0.0.1:\(bad.port)" }?["health"] as? String == "unhealthy")
            #expect(json["timestamp"] is String)
        }
        // Both workers act on the verdict: nothing reaches the bad target, on any connection.
        let before = bad.requests
        #expect(Self.load(port: stack.port, path: "/app/x", n: 60) == 60)
        #expect(bad.requests == before)
        #expect(good.requests >= 60)
        // A new generation starts with the verdicts the master replays: no window where it would try the bad target.
        #expect(try stack.stack("reload").status == 0)
        #expect(stack.waitForEvent("generation_retired"))
        #expect(Self.load(port: stack.port, path: "/app/y", n: 40) == 40)
        #expect(bad.requests == before)
        // Probed once per interval for the instance, not once per worker.
        Self.expectOneProbePerInterval(bad, stack)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }
}
