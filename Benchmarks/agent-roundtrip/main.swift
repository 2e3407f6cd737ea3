// Round trips through the agent SDK's server on a Unix socket: an allow-all handler (and the
// shipped WAF agent's rule set) answering RequestHeaders events from the SDK's FakeProxy.
// Run with -c release: swift run -c release agent-roundtrip [events]
import Foundation
import SentinelAgentProtocol
import SentinelAgentSDK
import SentinelBundledAgents
import SentinelWAF

struct AllowAll: AgentHandler {
    var capabilities: AgentCapabilities { AgentCapabilities(agentID: "allow", name: "allow", version: "1") }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func measure<H: AgentHandler>(_ name: String, _ handler: H, events: Int, concurrency: Int) async throws {
    try await AgentTestHarness.withAgent(handler) { proxy in
        let headers: [String: [String]] = [
            "host": ["shop.example"], "user-agent": ["Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"],
            "accept": ["text/html,application/xhtml+xml"], "accept-encoding": ["gzip, br"],
            "cookie": ["session=abc123; theme=dark"], "x-forwarded-for": ["203.0.113.9"],
        ]
        // Warm-up.
        for i in 0..<200 { _ = try await proxy.requestHeaders(.sample(uri: "/w", headers: headers, correlationID: "w\(i)")) }
        let clock = ContinuousClock()
        var latencies: [Double] = []
        latencies.reserveCapacity(events)
        let start = clock.now
        try await withThrowingTaskGroup(of: [Double].self) { group in
            for lane in 0..<concurrency {
                group.addTask {
                    var mine: [Double] = []
                    for i in stride(from: lane, to: events, by: concurrency) {
                        let t0 = clock.now
                        _ = try await proxy.requestHeaders(.sample(uri: "/api/v1/items/\(i)?page=2&sort=name", headers: headers,
                                                                   correlationID: "c\(i)"))
                        mine.append(Double((clock.now - t0) / .nanoseconds(1)) / 1000)
                    }
                    return mine
                }
            }
            for try await part in group { latencies += part }
        }
        let elapsed = Double((clock.now - start) / .nanoseconds(1)) / 1e9
        latencies.sort()
        print(String(format: "%@ concurrency %d: %d events in %.2f s = %.0f/s; round trip p50 %.0f µs, p99 %.0f µs",
                     name, concurrency, events, elapsed, Double(events) / elapsed,
                     percentile(latencies, 0.5), percentile(latencies, 0.99)))
    }
}

/// The WAF rule set alone (no socket): µs per head evaluation of a clean and an attack request.
func measureWAF(iterations: Int) throws {
    let policy = try WAFSettings().policy()
    let headers: [(name: String, value: String)] = [
        ("host", "shop.example"), ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
        ("accept", "text/html,application/xhtml+xml"), ("cookie", "session=abc123; theme=dark"),
    ]
    for (name, uri) in [("clean", "/api/v1/items/42?page=2&sort=name&fields=id,title"),
                        ("attack", "/q?id=1%20UNION%20SELECT%20password%20FROM%20users")] {
        let request = WAFRequest(method: "GET", uri: uri, headers: headers)
        let clock = ContinuousClock()
        var hits = 0
        let t0 = clock.now
        for _ in 0..<iterations {
            var carry = WAFCarry()
            if policy.evaluate(request, phase: .head, carry: &carry).block { hits += 1 }
        }
        let us = Double((clock.now - t0) / .nanoseconds(1)) / 1000 / Double(iterations)
        print(String(format: "waf evaluate (%@, %d rules): %.1f µs per request (%d blocked)", name, policy.rules.count, us, hits))
    }
}

// `agent-roundtrip waf`: only the rule-set measurement (for instruction counts with perf stat).
if CommandLine.arguments.dropFirst().first == "waf" {
    try measureWAF(iterations: 20_000)
    exit(0)
}
let events = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 20_000 : 20_000
try measureWAF(iterations: 20_000)
try await measure("allow-all", AllowAll(), events: events, concurrency: 1)
try await measure("allow-all", AllowAll(), events: events, concurrency: 16)
try await measure("waf", try WAFAgent(settings: WAFSettings()), events: events, concurrency: 1)
try await measure("waf", try WAFAgent(settings: WAFSettings()), events: events, concurrency: 16)
