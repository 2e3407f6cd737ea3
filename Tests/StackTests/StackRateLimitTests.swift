import Foundation
import SentinelTestSupport
import Testing

/// A rate limit under `sentinel-stack` is per instance: four worker processes share the buckets
/// (the master's memory file), so a client spreading its requests over many connections (which
/// the kernel spreads over the workers' sockets) gets the burst and the rate once, not four times.
@Suite(.serialized) struct StackRateLimitTests {
    @Test func fourWorkersEnforceOneRate() throws {
        let stack = try StackProcess(workers: 4, config: { port, dir in
            """
            \(StackProcess.prelude(workers: 4, port: port, dir: dir, threads: 1))
            filters { filter "rl" { type "rate-limit"; max-rps 1; burst 6 } }
            routes {
                route "limited" { matches { path "/limited" }; filters "rl"; builtin-handler "health" }
                route "health" { matches { path "/health" }; builtin-handler "health" }
            }
            """
        })
        #expect(stack.waitForEvent("started"))
        // Every worker serves: many fresh connections reach all four sockets.
        let clock = ContinuousClock()
        let start = clock.now
        var admitted = 0
        var limited = 0
        for _ in 0..<48 {
            let r = try RawClient(port: stack.port).request("GET /limited HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            if r.status == 200 { admitted += 1 } else if r.status == 429 { limited += 1 }
        }
        let elapsed = clock.now - start
        // The burst plus one token a second, once: four per-worker buckets would admit up to 24.
        let allowed = 6 + Int(elapsed.components.seconds) + 1
        #expect(admitted >= 6 && admitted <= allowed, "admitted \(admitted) in \(elapsed)")
        #expect(admitted + limited == 48)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }
}
