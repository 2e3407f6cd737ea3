import Glibc
import SentinelAgentProtocol
import Synchronization
import Testing

@testable import SentinelAgentSDK

/// A one-shot signal between a test and a handler.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func open() {
        let w = state.withLock { s in s.open = true; defer { s.waiters = [] }; return s.waiters }
        w.forEach { $0.resume() }
    }
    func wait() async {
        await withCheckedContinuation { c in
            let ready = state.withLock { s -> Bool in if s.open { return true }; s.waiters.append(c); return false }
            if ready { c.resume() }
        }
    }
}

/// Handler for the server tests: URIs starting with /slow wait for `release`; it records how
/// many events ran at once and which cancellations it was told about.
final class ScriptedHandler: AgentHandler {
    let release = Gate()
    let slowStarted = Gate()
    let cancelSeen = Gate()
    let slowReturned = Gate()
    let running = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
    let sawTaskCancellation = Atomic<Bool>(false)
    let refuse: String?

    init(refuse: String? = nil) { self.refuse = refuse }

    var capabilities: AgentCapabilities { AgentCapabilities(agentID: "scripted", name: "Scripted", version: "0.1", supportedEvents: [1, 8]) }

    func handshake(_ request: HandshakeRequest) async -> String? { refuse }

    func configure(_ config: AgentJSON, version: String?) async throws {
        if config["reject"] != nil { throw SettingsProblem() }
    }

    struct SettingsProblem: Error, CustomStringConvertible { var description: String { "reject is set" } }

    func requestHeaders(_ event: RequestHeadersEvent) async -> AgentResponse {
        let now = running.wrappingAdd(1, ordering: .relaxed).newValue
        _ = peak.max(now, ordering: .relaxed)
        defer { running.wrappingSubtract(1, ordering: .relaxed) }
        if event.uri.hasPrefix("/slow") {
            slowStarted.open()
            await release.wait()
            if Task.isCancelled { sawTaskCancellation.store(true, ordering: .relaxed) }
            slowReturned.open()
        }
        if event.uri == "/block" { return .block(status: 403, body: "no", headers: ["x-why": "test"]) }
        return AgentResponse.allow().settingRequestHeader("x-seen", event.uri)
    }

    func cancelled(_ message: CancelMessage) async { cancelSeen.open() }
}

@Suite struct AgentServerTests {
    @Test func handshakeAnswersCarryCapabilitiesAndCorrelationIDs() async throws {
        try await AgentTestHarness.withAgent(ScriptedHandler()) { proxy in
            #expect(proxy.handshakeResponse?.capabilities.agentID == "scripted")
            #expect(proxy.handshakeResponse?.encoding == "json")
            let r = try await proxy.requestHeaders(.sample(uri: "/a", correlationID: "cid-1"))
            #expect(r.correlationID == "cid-1")
            #expect(r.requestHeaders == [.set(name: "x-seen", value: "/a")])
            let b = try await proxy.requestHeaders(.sample(uri: "/block", correlationID: "cid-2"))
            #expect(b.decision == .block(status: 403, body: "no", headers: ["x-why": "test"]))
        }
    }

    @Test func eventsOnOneConnectionRunConcurrentlyAndAnswerOutOfOrder() async throws {
        let h = ScriptedHandler()
        try await AgentTestHarness.withAgent(h) { proxy in
            async let slow = proxy.requestHeaders(.sample(uri: "/slow", correlationID: "slow"))
            await h.slowStarted.wait()
            let fast = try await proxy.requestHeaders(.sample(uri: "/fast", correlationID: "fast"))
            #expect(fast.correlationID == "fast")
            h.release.open()
            #expect(try await slow.correlationID == "slow")
        }
    }

    @Test func pingIsAnsweredWithItsOwnPayloadWhileAnEventRuns() async throws {
        let h = ScriptedHandler()
        try await AgentTestHarness.withAgent(h) { proxy in
            async let slow = proxy.requestHeaders(.sample(uri: "/slow", correlationID: "s"))
            await h.slowStarted.wait()
            let pong = try await proxy.ping(sequence: 42)
            #expect(try AgentCodec.decode(PingMessage.self, from: pong) == PingMessage(sequence: 42, timestampMs: 0))
            h.release.open()
            _ = try await slow
        }
    }

    @Test func cancelStopsTheEventAndItsAnswerIsNotSent() async throws {
        let h = ScriptedHandler()
        try await AgentTestHarness.withAgent(h) { proxy in
            let cid = "to-cancel"
            try await proxy.sendRaw(try AgentCodec.frame(.requestHeaders, RequestHeadersEvent.sample(uri: "/slow", correlationID: cid)).encoded())
            await h.slowStarted.wait()
            try await proxy.cancel(cid, reason: .clientDisconnect)
            await h.cancelSeen.wait()
            h.release.open()
            await h.slowReturned.wait()
            let sawCancellation = h.sawTaskCancellation.load(ordering: .relaxed)
            #expect(sawCancellation)
            // A later round trip on the same connection: the cancelled answer never arrives.
            _ = try await proxy.requestHeaders(.sample(uri: "/after", correlationID: "after"))
            _ = try await proxy.ping()
            #expect(proxy.unsolicited.isEmpty)
        }
    }

    @Test func inFlightEventsAreBoundedPerConnection() async throws {
        let h = ScriptedHandler()
        var options = AgentServer<ScriptedHandler>.Options()
        options.maxInFlightPerConnection = 2
        try await AgentTestHarness.withAgent(h, options: options) { proxy, _ in
            async let a = proxy.requestHeaders(.sample(uri: "/slow/1", correlationID: "1"))
            async let b = proxy.requestHeaders(.sample(uri: "/slow/2", correlationID: "2"))
            async let c = proxy.requestHeaders(.sample(uri: "/slow/3", correlationID: "3"))
            await h.slowStarted.wait()
            h.release.open()
            _ = try await (a, b, c)
            let peak = h.peak.load(ordering: .relaxed)
            #expect(peak <= 2)
        }
    }

    @Test func configureAcceptsOrRejectsWithTheReason() async throws {
        try await AgentTestHarness.withAgent(ScriptedHandler()) { proxy in
            let ok = try await proxy.configure(.object(["level": .number(2)]))
            #expect(ok.decision == .allow)
            let no = try await proxy.configure(.object(["reject": .bool(true)]), correlationID: "cfg-2")
            #expect(no.decision == .block(status: 500, body: "Configuration rejected: reject is set", headers: nil))
            #expect(no.correlationID == "cfg-2")
        }
    }

    @Test func aMalformedEventIsAllowedUnderItsCorrelationID() async throws {
        try await AgentTestHarness.withAgent(ScriptedHandler()) { proxy in
            // RequestHeaders without `method`: the reference agent answers allow.
            let payload = Array(#"{"correlation_id":"bad-1","headers":{},"metadata":{"correlation_id":"bad-1"},"uri":"/"}"#.utf8)
            let r = try await proxy.send(.requestHeaders, RawJSON(bytes: payload), correlationID: "bad-1")
            #expect(r.decision == .allow)
            #expect(r.requestHeaders.isEmpty)
        }
    }

    @Test func aFramingErrorClosesTheConnection() async throws {
        try await AgentTestHarness.withAgent(ScriptedHandler()) { proxy in
            try await proxy.sendRaw([0, 0, 0, 0])
            #expect(await proxy.waitUntilClosed())
        }
        try await AgentTestHarness.withAgent(ScriptedHandler()) { proxy in
            try await proxy.sendRaw([0xFF, 0xFF, 0xFF, 0xFF, 0x10])   // 4 GiB declared: refused before any body
            #expect(await proxy.waitUntilClosed())
        }
        try await AgentTestHarness.withAgent(ScriptedHandler()) { proxy in
            try await proxy.sendRaw([0, 0, 0, 1, 0x7E])   // unknown type
            #expect(await proxy.waitUntilClosed())
        }
    }

    @Test func aRefusedHandshakeIsReportedAndAFirstNonHandshakeFrameCloses() async throws {
        let server = AgentServer(socketPath: AgentTestHarness.temporarySocketPath(), handler: ScriptedHandler(refuse: "not today"))
        try await server.start()
        await #expect(throws: FakeProxy.Failure.handshakeRefused("not today")) {
            _ = try await FakeProxy.connect(to: server.socketPath)
        }
        let raw = try await FakeProxy.connect(to: server.socketPath, handshake: nil)
        try await raw.sendRaw(try AgentCodec.frame(.requestHeaders, RequestHeadersEvent.sample()).encoded())
        #expect(await raw.waitUntilClosed())
        await raw.close()
        await server.stop()
    }

    @Test func manyConnectionsAndTheSocketFileIsReplacedAndRemoved() async throws {
        let path = AgentTestHarness.temporarySocketPath()
        // A stale socket file from an earlier run is replaced.
        let stale = AgentServer(socketPath: path, handler: ScriptedHandler())
        try await stale.start()
        let second = AgentServer(socketPath: path, handler: ScriptedHandler())
        try await second.start()
        var proxies: [FakeProxy] = []
        for i in 0..<4 {
            let p = try await FakeProxy.connect(to: path)
            #expect(try await p.requestHeaders(.sample(correlationID: "c\(i)")).correlationID == "c\(i)")
            proxies.append(p)
        }
        for p in proxies { await p.close() }
        await second.stop()
        await stale.stop()
        #expect(access(path, F_OK) != 0)
    }
}

/// Pre-encoded JSON sent as it is.
struct RawJSON: Encodable {
    var bytes: [UInt8]
    func encode(to encoder: any Encoder) throws {
        // Only used with AgentCodec.frame via FakeProxy.send: decode and re-encode as AgentJSON.
        try AgentCodec.decode(AgentJSON.self, from: bytes).encode(to: encoder)
    }
}

@Suite struct AgentServerHostileInputTests {
    /// Well-framed frames of every type with payloads that are random bytes, truncated JSON or
    /// JSON of the wrong shape: the server answers what it can, ignores the rest, and the
    /// connection keeps working (a Ping is still answered).
    @Test func wellFramedGarbageNeverBreaksTheConnection() async throws {
        var rng = SystemRandomNumberGenerator()
        try await AgentTestHarness.withAgent(ScriptedHandler()) { proxy in
            let valid = try AgentCodec.encode(RequestHeadersEvent.sample(correlationID: "g"))
            var payloads: [[UInt8]] = [[], Array("null".utf8), Array("[]".utf8), Array(#"{"correlation_id":7}"#.utf8)]
            for n in stride(from: 0, to: valid.count, by: max(1, valid.count / 20)) { payloads.append(Array(valid.prefix(n))) }
            for _ in 0..<20 { payloads.append((0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
            // Not Ping: its Pong would answer the test's own Ping below.
            let types = AgentMessageType.allCases.filter { $0 != .handshakeRequest && $0 != .ping }
            var bytes: [UInt8] = []
            for p in payloads {
                for t in types { try AgentFrame.append(type: t, payload: p, to: &bytes) }
            }
            try await proxy.sendRaw(bytes)
            let pong = try await proxy.ping(sequence: 9)
            #expect(try AgentCodec.decode(PingMessage.self, from: pong).sequence == 9)
            let r = try await proxy.requestHeaders(.sample(uri: "/still", correlationID: "still-ok"))
            #expect(r.requestHeaders == [.set(name: "x-seen", value: "/still")])
            #expect(!proxy.isClosed)
        }
    }
}
