import Foundation
import SentinelAgentProtocol
import SentinelAgentSDK
import SentinelTestSupport
import Testing

/// The shipped agents (`sentinel-agent-echo`, `-auth`, `-waf`, as built) supervised by the built
/// `sentinel-stack`: the stack starts them, they listen on their sockets and answer a proxy.
/// Synchronisation is on the master's log lines and on the sockets themselves, never on sleeps.
@Suite(.serialized) struct ShippedAgentsStackTests {
    @Test func theStackRunsTheShippedAgentsAndTheyAnswer() async throws {
        let dir = NSTemporaryDirectory() + "sst-shipped-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Socket paths must fit sun_path (108 bytes): short names under /tmp.
        let tag = String(UUID().uuidString.prefix(6))
        let sock = { (name: String) in "/tmp/ssa-\(tag)-\(name).sock" }
        try "ci:ci-0123456789abcdef\n".write(toFile: dir + "/keys", atomically: true, encoding: .utf8)
        let stack = try StackProcess(workers: 1, topLevel: """
            agents {
                agent "echo" { unix-socket "\(sock("echo"))"; command "\(builtProducts)/sentinel-agent-echo" "--socket" "\(sock("echo"))" "--verbose"; }
                agent "auth" { unix-socket "\(sock("auth"))"; command "\(builtProducts)/sentinel-agent-auth" "--socket" "\(sock("auth"))" "--api-keys-file" "\(dir)/keys"; }
                agent "waf" { unix-socket "\(sock("waf"))"; command "\(builtProducts)/sentinel-agent-waf" "--socket" "\(sock("waf"))" "--paranoia-level" "2"; }
            }
            """)
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        // Each agent logs agent_listening once its socket is bound; the master relays the line.
        #expect(stack.wait { ["echo", "auth", "waf"].allSatisfy { name in
            stack.events("agent_output").contains { $0.contains("\"agent\":\"\(name)\"") && $0.contains("agent_listening") }
        } }, "log: \(stack.text)")

        let echo = try await FakeProxy.connect(to: sock("echo"))
        #expect(echo.handshakeResponse?.capabilities.agentID == "echo")
        let e = try await echo.requestHeaders(.sample(uri: "/x", headers: ["user-agent": ["t/1"]]))
        #expect(e.requestHeaders.contains(.set(name: "X-Echo-User-Agent", value: "t/1")))
        await echo.close()

        let auth = try await FakeProxy.connect(to: sock("auth"))
        let ok = try await auth.requestHeaders(.sample(headers: ["x-api-key": ["ci-0123456789abcdef"]]))
        #expect(ok.requestHeaders.contains(.set(name: "x-user-id", value: "ci")))
        let no = try await auth.requestHeaders(.sample())
        #expect(no.decision == .block(status: 401, body: "Unauthorized", headers: ["www-authenticate": #"ApiKey realm="sentinel", header="x-api-key""#]))
        await auth.close()

        let waf = try await FakeProxy.connect(to: sock("waf"))
        let blocked = try await waf.requestHeaders(.sample(uri: "/?q=select+name+from+users"))
        #expect(blocked.audit.ruleIDs == ["100108"])   // a paranoia-2 rule: --paranoia-level reached the agent
        await waf.close()

        kill(stack.process.processIdentifier, SIGTERM)
        #expect(stack.exitStatus() == 0, "log: \(stack.text)")
        // The agents got SIGTERM from the master and removed their sockets.
        #expect(["echo", "auth", "waf"].allSatisfy { access(sock($0), F_OK) != 0 })
    }
}
