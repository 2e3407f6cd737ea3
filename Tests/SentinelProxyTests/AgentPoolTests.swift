import NIOCore
import NIOPosix
import SentinelAgentProtocol
@testable import SentinelProxy
import SentinelTestSupport
import Testing

/// The proxy's agent client against a scriptable agent over real Unix sockets.
@Suite(.serialized) struct AgentPoolTests {
    static let callerGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    func settings(_ path: String, _ edit: (inout AgentSettings) -> Void = { _ in }) -> AgentSettings {
        var s = AgentSettings(id: "a", socketPath: path)
        s.reconnectDelay = .milliseconds(20)
        s.maxReconnectDelay = .milliseconds(100)
        edit(&s)
        return s
    }

    func withPool(_ agent: FakeAgent?, path: String? = nil, ready: Int = 4, _ edit: (inout AgentSettings) -> Void = { _ in },
                  _ body: (AgentPool, AgentRegistry) async throws -> Void) async throws {
        let registry = AgentRegistry(metrics: AgentMetrics())
        let pool = registry.apply([settings(path ?? agent!.path, edit)])["a"]!
        if ready > 0 { try await pool.whenReady(connections: ready).get() }
        do { try await body(pool, registry) } catch { registry.shutdown(); agent?.stop(); throw error }
        registry.shutdown()
        agent?.stop()
    }

    func call(_ pool: AgentPool, _ cid: String, uri: String = "/", timeout: Duration? = nil) -> AgentPool.Ticket {
        let meta = RequestMetadata(correlationID: cid, requestID: "r", clientIP: "127.0.0.1:1", timestamp: "t")
        let event = RequestHeadersEvent(correlationID: cid, metadata: meta, method: "GET", uri: uri, headers: [:])
        return pool.call(.requestHeaders, correlationID: cid, payload: try! AgentCodec.encode(event), timeout: timeout,
                         on: Self.callerGroup.next())
    }

    /// The agent tags each answer with the event's uri, so a test sees whose answer it got.
    static func tagged(_ r: FakeAgent.Received, delay: TimeAmount? = nil) -> [FakeAgent.Reply] {
        let uri = r.json?["uri"]?.stringValue ?? "?"
        let response = AgentResponse(routingMetadata: ["uri": uri])
        if let delay { return [.respondAfter(delay, response)] }
        return [.respond(response)]
    }

    func uri(_ outcome: AgentCallOutcome) -> String? {
        if case .response(let r) = outcome { return r.routingMetadata["uri"] }
        return nil
    }

    func failure(_ outcome: AgentCallOutcome) -> AgentCallFailure? {
        if case .failure(let f) = outcome { return f }
        return nil
    }

    @Test func fourConnectionsEachWithAHandshake() async throws {
        let agent = try FakeAgent()
        try await withPool(agent) { (pool: AgentPool, _: AgentRegistry) async throws in
            #expect(agent.connections == 4)
            let hellos = agent.received.filter { $0.type == .handshakeRequest }
            #expect(hellos.count == 4)
            #expect(hellos.allSatisfy { $0.text == #"{"supported_versions":[2],"proxy_id":"sentinel-proxy","proxy_version":"\#(AgentPool.proxyVersion)","config":null,"supported_encodings":["json"]}"# })
            #expect(try await pool.readyConnections.get() == 4)
        }
    }

    @Test func manyCallsInFlightMatchedByCorrelationID() async throws {
        // Answers come back in reverse order of the calls.
        let agent = try FakeAgent { r in
            let n = Int(r.json?["uri"]?.stringValue?.dropFirst() ?? "0") ?? 0
            return AgentPoolTests.tagged(r, delay: .milliseconds(Int64(200 - n * 8)))
        }
        try await withPool(agent, ready: 1, { $0.connections = 1 }) { (pool: AgentPool, _: AgentRegistry) async throws in
            let tickets = (0..<20).map { call(pool, "c\($0)", uri: "/\($0)") }
            for (i, t) in tickets.enumerated() { #expect(uri(try await t.outcome.get()) == "/\(i)") }
        }
    }

    @Test func twoCallsWithTheSameCorrelationIDNeverCross() async throws {
        let agent = try FakeAgent { r in
            AgentPoolTests.tagged(r, delay: r.json?["uri"]?.stringValue == "/slow" ? .milliseconds(150) : nil)
        }
        try await withPool(agent) { (pool: AgentPool, _: AgentRegistry) async throws in
            let slow = call(pool, "same", uri: "/slow")
            try await Task.sleep(for: .milliseconds(20))
            let fast = call(pool, "same", uri: "/fast")
            #expect(uri(try await fast.outcome.get()) == "/fast")
            #expect(uri(try await slow.outcome.get()) == "/slow")
        }
    }

    @Test func sameIDWithOneConnectionWaitsInsteadOfCrossing() async throws {
        let agent = try FakeAgent { r in
            AgentPoolTests.tagged(r, delay: r.json?["uri"]?.stringValue == "/slow" ? .milliseconds(100) : nil)
        }
        try await withPool(agent, ready: 1, { $0.connections = 1 }) { (pool: AgentPool, _: AgentRegistry) async throws in
            let slow = call(pool, "same", uri: "/slow")
            try await Task.sleep(for: .milliseconds(20))
            let fast = call(pool, "same", uri: "/fast")
            #expect(uri(try await slow.outcome.get()) == "/slow")
            #expect(uri(try await fast.outcome.get()) == "/fast")
        }
    }

    /// A late answer to a timed-out call is dropped, never taken as the answer to the request's
    /// next event, and the agent is told with Cancel (reason 1, timeout).
    @Test func aLateAnswerNeverLandsOnALaterEvent() async throws {
        let agent = try FakeAgent { r in
            AgentPoolTests.tagged(r, delay: r.json?["uri"]?.stringValue == "/first" ? .milliseconds(300) : nil)
        }
        try await withPool(agent, ready: 1, { $0.connections = 1 }) { (pool: AgentPool, registry: AgentRegistry) async throws in
            let first = call(pool, "req", uri: "/first", timeout: .milliseconds(80))
            #expect(failure(try await first.outcome.get()) == .timeout)
            let second = call(pool, "req", uri: "/second")
            #expect(uri(try await second.outcome.get()) == "/second")
            #expect(await agent.waitUntil { $0.contains { $0.type == .cancel } })
            let cancel = agent.received.first { $0.type == .cancel }!
            #expect(cancel.json?["reason"] == .number(1) && cancel.correlationID == "req")
            // The late answer arrives and is counted as unmatched.
            let third = call(pool, "other", uri: "/third", timeout: .seconds(2))
            _ = try await third.outcome.get()
            try await Task.sleep(for: .milliseconds(350))
            #expect(registry.metrics.unmatchedAnswers(agent: "a") == 1)
            #expect(registry.metrics.failures(agent: "a", reason: .timeout) == 1)
        }
    }

    @Test func eofFailsTheCallsOfThatConnectionAtOnceAndReconnects() async throws {
        let agent = try FakeAgent { r in r.json?["uri"]?.stringValue == "/die" ? [.close] : AgentPoolTests.tagged(r) }
        try await withPool(agent, ready: 1, { $0.connections = 1; $0.timeout = .seconds(5) }) { (pool: AgentPool, _: AgentRegistry) async throws in
            let start = ContinuousClock.now
            #expect(failure(try await call(pool, "x", uri: "/die").outcome.get()) == .connectionLost)
            #expect(ContinuousClock.now - start < .seconds(2))
            try await pool.whenReady(connections: 1).get()
            #expect(agent.connections >= 2)
            #expect(uri(try await call(pool, "y", uri: "/ok").outcome.get()) == "/ok")
        }
    }

    @Test func malformedOversizedAndUnknownFramesReplaceTheConnection() async throws {
        for garbage: [UInt8] in [[0x00, 0x00, 0x00, 0x00], [0x01, 0x00, 0x00, 0x01, 0x20], [0x00, 0x00, 0x00, 0x02, 0x99, 0x7B]] {
            let agent = try FakeAgent { r in r.json?["uri"]?.stringValue == "/bad" ? [.raw(garbage)] : AgentPoolTests.tagged(r) }
            try await withPool(agent, ready: 1, { $0.connections = 1 }) { (pool: AgentPool, _: AgentRegistry) async throws in
                #expect(failure(try await call(pool, "x", uri: "/bad").outcome.get()) == .connectionLost)
                try await pool.whenReady(connections: 1).get()
                #expect(uri(try await call(pool, "y", uri: "/ok").outcome.get()) == "/ok")
            }
        }
    }

    @Test func anInvalidAnswerFailsItsCallAndAWronglyCorrelatedOneIsDropped() async throws {
        let agent = try FakeAgent { r in
            switch r.json?["uri"]?.stringValue {
            case "/invalid": return [.raw(try! AgentFrame(type: .agentResponse, payload: Array(#"{"decision":"allow","audit":{"custom":{"correlation_id":"x"}}}"#.utf8)).encoded())]
            case "/foreign": return [.respondAsIs({ var a = AgentResponse(); a.setCorrelationID("nobody"); return a }())]
            default: return AgentPoolTests.tagged(r)
            }
        }
        try await withPool(agent, ready: 1, { $0.connections = 1 }) { (pool: AgentPool, registry: AgentRegistry) async throws in
            #expect(failure(try await call(pool, "x", uri: "/invalid").outcome.get()) == .invalidResponse)
            #expect(failure(try await call(pool, "y", uri: "/foreign", timeout: .milliseconds(100)).outcome.get()) == .timeout)
            #expect(registry.metrics.unmatchedAnswers(agent: "a") == 1)
            #expect(uri(try await call(pool, "z", uri: "/ok").outcome.get()) == "/ok")
        }
    }

    @Test func anAgentThatStartsAfterTheProxyIsUsedWithinSeconds() async throws {
        let path = FakeAgent.temporarySocketPath()
        try await withPool(nil, path: path, ready: 0) { (pool: AgentPool, _: AgentRegistry) async throws in
            #expect(failure(try await call(pool, "x").outcome.get()) == .unavailable)
            let agent = try FakeAgent(path: path) { AgentPoolTests.tagged($0) }
            defer { agent.stop() }
            try await pool.whenReady(connections: 4).get()
            #expect(uri(try await call(pool, "y", uri: "/up").outcome.get()) == "/up")
        }
    }

    @Test func aRestartedAgentIsUsedAgain() async throws {
        let path = FakeAgent.temporarySocketPath()
        var agent = try FakeAgent(path: path) { AgentPoolTests.tagged($0) }
        try await withPool(nil, path: path, ready: 4) { (pool: AgentPool, _: AgentRegistry) async throws in
            agent.stop()
            agent = try FakeAgent(path: path) { AgentPoolTests.tagged($0) }
            try await pool.whenReady(connections: 4).get()
            #expect(await agent.waitUntil { $0.filter { $0.type == .handshakeRequest }.count == 4 })
            #expect(uri(try await call(pool, "y", uri: "/again").outcome.get()) == "/again")
        }
        agent.stop()
    }

    @Test func aRejectedOrSilentHandshakeNeverMakesAConnectionReady() async throws {
        for mode: FakeAgent.Handshake in [.reject("bad token"), .silent, .raw([0, 0, 0, 3, 0x20, 0x7B, 0x7D])] {
            let agent = try FakeAgent(handshake: mode)
            try await withPool(agent, ready: 0, { $0.connections = 1; $0.handshakeTimeout = .milliseconds(100) }) { (pool: AgentPool, _: AgentRegistry) async throws in
                // It keeps trying (a new connection each time), and calls fail at once meanwhile.
                #expect(await agent.waitUntil { $0.filter { $0.type == .handshakeRequest }.count >= 3 })
                #expect(try await pool.readyConnections.get() == 0)
                #expect(failure(try await call(pool, "x").outcome.get()) == .unavailable)
            }
        }
    }

    @Test func pingIsAnsweredWithAPongEchoingItsPayload() async throws {
        let ping = Array(#"{"sequence":9,"timestamp_ms":123}"#.utf8)
        let agent = try FakeAgent { r in [.raw(try! AgentFrame(type: .ping, payload: ping).encoded())] + AgentPoolTests.tagged(r) }
        try await withPool(agent, ready: 1, { $0.connections = 1 }) { (pool: AgentPool, _: AgentRegistry) async throws in
            _ = try await call(pool, "x").outcome.get()
            #expect(await agent.waitUntil { $0.contains { $0.type == .pong } })
            #expect(agent.received.first { $0.type == .pong }?.payload == ping)
        }
    }

    @Test func theBreakerOpensAfterConsecutiveFailures() async throws {
        let agent = try FakeAgent { _ in [.silent] }
        try await withPool(agent, ready: 1, {
            $0.breaker = .init(failureThreshold: 2, successThreshold: 1, timeout: .seconds(30))
            $0.timeout = .milliseconds(50)
        }) { (pool: AgentPool, _: AgentRegistry) async throws in
            #expect(failure(try await call(pool, "a").outcome.get()) == .timeout)
            #expect(failure(try await call(pool, "b").outcome.get()) == .timeout)
            #expect(failure(try await call(pool, "c").outcome.get()) == .breakerOpen)
            #expect(agent.events.filter { $0.type == .requestHeaders }.count == 2)
        }
    }

    @Test func maxConcurrentCallsQueuesAndTheQueueIsBounded() async throws {
        let agent = try FakeAgent { AgentPoolTests.tagged($0, delay: .milliseconds(100)) }
        try await withPool(agent, ready: 4, { $0.maxConcurrentCalls = 1; $0.maxQueueDepth = 1 }) { (pool: AgentPool, _: AgentRegistry) async throws in
            let a = call(pool, "a", uri: "/a"), b = call(pool, "b", uri: "/b"), c = call(pool, "c", uri: "/c")
            #expect(failure(try await c.outcome.get()) == .queueFull)
            #expect(uri(try await a.outcome.get()) == "/a")
            #expect(uri(try await b.outcome.get()) == "/b")
        }
    }

    @Test func configureIsSentAfterTheHandshakeAndARejectionKeepsTheConnectionOut() async throws {
        let config: AgentJSON = .object(["mode": .string("block")])
        let accepting = try FakeAgent { r in r.type == .configure ? [.respond(AgentResponse())] : AgentPoolTests.tagged(r) }
        try await withPool(accepting, ready: 1, { $0.connections = 1; $0.config = config }) { (pool: AgentPool, _: AgentRegistry) async throws in
            let frames = accepting.received.map(\.type)
            #expect(Array(frames.prefix(2)) == [.handshakeRequest, .configure])
            let configure = accepting.received[1]
            #expect(configure.json?["config"] == config && configure.json?["config_version"] == .null)
            #expect(accepting.received[0].json?["config"] == config)
            #expect(uri(try await call(pool, "x", uri: "/ok").outcome.get()) == "/ok")
        }
        let rejecting = try FakeAgent { r in
            r.type == .configure ? [.respond(AgentResponse(decision: .block(status: 500, body: "Configuration rejected", headers: nil)))] : AgentPoolTests.tagged(r)
        }
        try await withPool(rejecting, ready: 0, { $0.connections = 1; $0.config = config }) { (pool: AgentPool, _: AgentRegistry) async throws in
            #expect(await rejecting.waitUntil { $0.filter { $0.type == .configure }.count >= 2 })
            #expect(try await pool.readyConnections.get() == 0)
        }
    }

    @Test func cancelByTheCallerSendsCancelWithReasonZero() async throws {
        let agent = try FakeAgent { _ in [.silent] }
        try await withPool(agent, ready: 1, { $0.connections = 1 }) { (pool: AgentPool, _: AgentRegistry) async throws in
            let t = call(pool, "gone", timeout: .seconds(5))
            #expect(await agent.waitUntil { $0.contains { $0.type == .requestHeaders } })
            pool.cancel(t.id, reason: .clientDisconnect)
            #expect(failure(try await t.outcome.get()) == .cancelled)
            #expect(await agent.waitUntil { $0.contains { $0.type == .cancel } })
            let c = agent.received.first { $0.type == .cancel }!
            #expect(c.json?["reason"] == .number(0) && c.correlationID == "gone")
        }
    }
}
