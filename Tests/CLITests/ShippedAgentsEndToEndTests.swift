import Foundation
import SentinelTestSupport
import Synchronization
import Testing

/// Whether this build's `sentinel test` accepts a route with an agent filter.
let sentinelCallsAgents: Bool = {
    let file = NSTemporaryDirectory() + "sentinel-e2e-probe-\(getpid()).kdl"
    let probe = """
        system { worker-threads 0; }
        listeners { listener "http" { address "127.0.0.1:0"; protocol "http"; } }
        routes { route "app" { matches { path-prefix "/" }; upstream "app"; filters "agent"; } }
        upstreams { upstream "app" { target "127.0.0.1:9"; } }
        filters { filter "agent" { type "agent"; agent "probe"; failure-mode "closed"; } }
        agents { agent "probe" { unix-socket "/tmp/probe.sock"; events "request_headers"; timeout-ms 5000; } }
        """
    guard (try? probe.write(toFile: file, atomically: true, encoding: .utf8)) != nil else { return false }
    defer { try? FileManager.default.removeItem(atPath: file) }
    return (try? runBuilt("sentinel", ["test", "--config", file]))?.status == 0
}()

/// Each shipped agent (the built executable) behind a real `sentinel` child process: requests
/// over TCP, the agent's decision at the client and its header edits at the upstream.
/// Synchronisation is on log lines, the agent's socket file and HTTP answers, never on sleeps.
///
/// These need the proxy side of the agent protocol (issue 14 items 1-5: the agent filter on the
/// request path). Until this build's `sentinel test` accepts an agent filter they are skipped,
/// and say so with the reason; from then on they run and must pass.
@Suite(.serialized, .enabled(if: sentinelCallsAgents,
                             "sentinel does not call agents in this build yet (the agent filter is refused as not supported yet)"))
struct ShippedAgentsEndToEndTests {
    /// A child process whose stderr is collected.
    final class Child: Sendable {
        let process = Process()
        private let log = CollectedText()

        init(_ executable: String, _ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: builtProducts + "/" + executable)
            process.arguments = arguments
            process.collectStderr(into: log)
            try process.run()
        }

        var text: String { log.value }

        var port: Int? {
            for line in text.split(separator: "\n") where line.contains("\"listener_bound\"") {
                if let r = line.range(of: "127.0.0.1:") { return Int(line[r.upperBound...].prefix { $0.isNumber }) }
            }
            return nil
        }

        deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
    }

    /// Starts `agent` (with `agentArgs`) and a `sentinel` whose only route passes it as a
    /// fail-closed agent filter to `upstream`; runs `body` with the proxy's port.
    func withProxy(
        agent: String, agentArgs: [String] = [], events: String = #""request_headers""#,
        upstream: ScriptedUpstream, _ body: (Int) throws -> Void
    ) throws {
        let dir = NSTemporaryDirectory() + "sentinel-e2e-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sock = "/tmp/se2e-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let agentProcess = try Child("sentinel-agent-\(agent)", ["--socket", sock] + agentArgs)
        #expect(pollUntil { access(sock, F_OK) == 0 }, "agent: \(agentProcess.text)")
        let config = """
            system { worker-threads 0; }
            listeners { listener "http" { address "127.0.0.1:0"; protocol "http"; } }
            routes { route "app" { matches { path-prefix "/" }; upstream "app"; filters "agent"; } }
            upstreams { upstream "app" { target "127.0.0.1:\(upstream.port)"; } }
            filters { filter "agent" { type "agent"; agent "\(agent)"; failure-mode "closed"; } }
            agents { agent "\(agent)" { unix-socket "\(sock)"; events \(events); timeout-ms 5000; } }
            """
        try config.write(toFile: dir + "/s.kdl", atomically: true, encoding: .utf8)
        let proxy = try Child("sentinel", ["--config", dir + "/s.kdl"])
        #expect(pollUntil { proxy.port != nil }, "sentinel: \(proxy.text)")
        let port = try #require(proxy.port, "sentinel: \(proxy.text)")
        // The proxy connects to its agents after it starts: the first request waits for that.
        #expect(pollUntil { proxy.text.contains(#""event":"agent_connected""#) }, "sentinel: \(proxy.text)")
        try body(port)
        proxy.process.terminate()
        agentProcess.process.terminate()
        proxy.process.waitUntilExit()
        agentProcess.process.waitUntilExit()
    }

    static func status(_ response: String) -> Int? {
        Int(response.split(separator: " ").dropFirst().first ?? "")
    }

    @Test func echoHeadersReachTheUpstream() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("hello") }
        try withProxy(agent: "echo", upstream: upstream) { port in
            let r = try httpGet(port: port, path: "/some/path?x=1")
            #expect(Self.status(r) == 200, "\(r)")
            let seen = try #require(upstream.requests.last)
            #expect(seen.header("x-echo-method") == ["GET"])
            #expect(seen.header("x-echo-path") == ["/some/path?x=1"])
            #expect(seen.header("x-echo-agent").first?.hasPrefix("sentinel-agent-echo/") == true)
        }
        await upstream.shutdown()
    }

    @Test func authRefusesWithoutAKeyAndSendsTheIdentityWithOne() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("secret") }
        let keys = NSTemporaryDirectory() + "se2e-keys-\(getpid())"
        try "ci:ci-0123456789abcdef\n".write(toFile: keys, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        try withProxy(agent: "auth", agentArgs: ["--api-keys-file", keys], upstream: upstream) { port in
            let refused = try httpGet(port: port, path: "/private")
            #expect(Self.status(refused) == 401, "\(refused)")
            #expect(refused.lowercased().contains(#"www-authenticate: apikey realm="sentinel", header="x-api-key""#), "\(refused)")
            #expect(upstream.requests.isEmpty)
            let client = try RawClient(port: port)
            client.send("GET /private HTTP/1.1\r\nHost: t\r\nX-API-Key: ci-0123456789abcdef\r\nX-User-Id: mallory\r\nConnection: close\r\n\r\n")
            let ok = client.readAll()
            #expect(Self.status(ok) == 200, "\(ok)")
            let seen = try #require(upstream.requests.last)
            #expect(seen.header("x-user-id") == ["ci"])
            #expect(seen.header("x-auth-method") == ["api-key"])
        }
        await upstream.shutdown()
    }

    @Test func wafBlocksAttacksAndPassesCleanRequests() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("page") }
        try withProxy(agent: "waf", upstream: upstream) { port in
            let attack = try httpGet(port: port, path: "/search?q=1%20UNION%20SELECT%20password%20FROM%20users")
            #expect(Self.status(attack) == 403, "\(attack)")
            #expect(upstream.requests.isEmpty)
            let clean = try httpGet(port: port, path: "/search?q=swift+agents")
            #expect(Self.status(clean) == 200, "\(clean)")
            #expect(upstream.requests.count == 1)
        }
        await upstream.shutdown()
    }
}
