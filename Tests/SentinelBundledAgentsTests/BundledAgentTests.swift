import Foundation
import SentinelAgentProtocol
import SentinelAgentSDK
import SentinelAuth
import SentinelWAF
import Testing

@testable import SentinelBundledAgents

private let secret = "0123456789abcdef0123456789abcdef-agent-secret"

private func hs256(_ claims: String) -> String {
    // Signed by `openssl dgst -hmac` (SentinelAuth's HMAC helper is internal to it).
    let input = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    p.arguments = ["dgst", "-sha256", "-hmac", secret, "-binary"]
    let inPipe = Pipe(), outPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    try! p.run()
    inPipe.fileHandleForWriting.write(Data(input.utf8))
    try! inPipe.fileHandleForWriting.close()
    let sig = outPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return input + "." + Base64URL.encode([UInt8](sig))
}

@Suite struct EchoAgentTests {
    @Test func echoesTheRequestAndTheResponse() async throws {
        try await AgentTestHarness.withAgent(EchoAgent()) { proxy in
            let r = try await proxy.requestHeaders(.sample(method: "POST", uri: "/a?b=1", correlationID: "e1"))
            #expect(r.decision == .allow)
            #expect(r.requestHeaders.contains(.set(name: "X-Echo-Method", value: "POST")))
            #expect(r.requestHeaders.contains(.set(name: "X-Echo-Path", value: "/a?b=1")))
            #expect(r.requestHeaders.contains(.set(name: "X-Echo-Correlation-Id", value: "e1")))
            #expect(r.requestHeaders.contains(.set(name: "X-Echo-Request-Num", value: "1")))
            #expect(r.audit.tags == ["echo", "request_headers"])
            let second = try await proxy.requestHeaders(.sample(correlationID: "e2"))
            #expect(second.requestHeaders.contains(.set(name: "X-Echo-Request-Num", value: "2")))
            let resp = try await proxy.responseHeaders(ResponseHeadersEvent(correlationID: "e1", status: 201, headers: [:]))
            #expect(resp.responseHeaders == [.set(name: "X-Echo-Response-Status", value: "201"),
                                             .set(name: "X-Echo-Response-Correlation-Id", value: "e1")])
            let body = try await proxy.requestBodyChunk(.sample(Array("hello".utf8), correlationID: "e1"))
            #expect(body.requestHeaders.contains(.set(name: "X-Echo-Body-Chunk-Size", value: "5")))
        }
    }

    @Test func configureChangesThePrefixAndVerbosityAndRefusesUnknownKeys() async throws {
        let agent = EchoAgent()
        try await AgentTestHarness.withAgent(agent) { proxy in
            let ok = try await proxy.configure(.object(["prefix": .string("X-Mirror-"), "verbose": .bool(true)]))
            #expect(ok.decision == .allow)
            let r = try await proxy.requestHeaders(.sample(headers: ["user-agent": ["t/1"]], correlationID: "v"))
            #expect(r.requestHeaders.contains(.set(name: "X-Mirror-User-Agent", value: "t/1")))
            #expect(r.requestHeaders.contains(.set(name: "X-Mirror-Client-Ip", value: "127.0.0.1:50000")))
            let bad = try await proxy.configure(.object(["prefx": .string("x")]), correlationID: "c2")
            guard case .block(500, let body?, _) = bad.decision else { Issue.record("accepted"); return }
            #expect(body.contains("unknown key \"prefx\""))
            #expect(agent.current.prefix == "X-Mirror-")
        }
    }
}

@Suite struct AuthAgentTests {
    static func agent() throws -> AuthAgent {
        var s = AuthSettings()
        s.jwtSecret = secret
        s.apiKeys = ["ci:ci-0123456789abcdef"]
        s.claimHeaders = ["role"]
        return try AuthAgent(settings: s, clock: { 1_800_000_000 })
    }

    @Test func aValidTokenSendsTheIdentityUpstreamAndStripsSpoofedHeaders() async throws {
        try await AgentTestHarness.withAgent(try Self.agent()) { proxy in
            let token = hs256(#"{"sub":"alice","role":"admin","exp":1800000300}"#)
            let r = try await proxy.requestHeaders(.sample(headers: ["authorization": ["Bearer " + token], "x-user-id": ["mallory"]]))
            #expect(r.decision == .allow)
            #expect(r.requestHeaders == [
                .set(name: "x-user-id", value: "alice"), .set(name: "x-auth-method", value: "jwt"),
                .set(name: "x-auth-claim-role", value: "admin"),
            ])
            // A token without the role claim: a client's x-auth-claim-role is removed, and no
            // header is both removed and set (edits mean the same in any order).
            let noRole = hs256(#"{"sub":"bob","exp":1800000300}"#)
            let b = try await proxy.requestHeaders(.sample(headers: ["authorization": ["Bearer " + noRole], "x-auth-claim-role": ["admin"]]))
            #expect(b.requestHeaders == [
                .set(name: "x-user-id", value: "bob"), .set(name: "x-auth-method", value: "jwt"), .remove(name: "x-auth-claim-role"),
            ])
            let key = try await proxy.requestHeaders(.sample(headers: ["x-api-key": ["ci-0123456789abcdef"]]))
            #expect(key.requestHeaders.contains(.set(name: "x-user-id", value: "ci")))
        }
    }

    @Test func missingOrBadCredentialsGet401WithWWWAuthenticate() async throws {
        try await AgentTestHarness.withAgent(try Self.agent()) { proxy in
            let none = try await proxy.requestHeaders(.sample())
            let challenge = #"Bearer realm="sentinel", ApiKey realm="sentinel", header="x-api-key""#
            #expect(none.decision == .block(status: 401, body: "Unauthorized", headers: ["www-authenticate": challenge]))
            #expect(none.responseHeaders.isEmpty)   // once, in the block's headers (not twice at the client)
            #expect(none.audit.reasonCodes == ["no credentials"])
            let expired = hs256(#"{"sub":"alice","exp":1799990000}"#)
            let r = try await proxy.requestHeaders(.sample(headers: ["authorization": ["Bearer " + expired]]))
            guard case .block(401, _, let headers?) = r.decision else { Issue.record("not refused"); return }
            #expect(headers["www-authenticate"]?.contains(#"error="invalid_token", error_description="token expired""#) == true)
        }
    }

    @Test func configureReplacesTheSettingsOrIsRejected() async throws {
        let agent = try Self.agent()
        try await AgentTestHarness.withAgent(agent) { proxy in
            let ok = try await proxy.configure(.object(["api-key": .array([.string("ops:ops-0123456789abcdef")]), "realm": .string("ops")]))
            #expect(ok.decision == .allow)
            let r = try await proxy.requestHeaders(.sample(headers: ["x-api-key": ["ops-0123456789abcdef"]]))
            #expect(r.requestHeaders.contains(.set(name: "x-user-id", value: "ops")))
            let old = try await proxy.requestHeaders(.sample(headers: ["x-api-key": ["ci-0123456789abcdef"]]))
            #expect(old.decision != .allow)
            let bad = try await proxy.configure(.object(["jwks-file": .string("/nonexistent.json")]), correlationID: "c2")
            guard case .block(500, let body?, _) = bad.decision else { Issue.record("accepted"); return }
            #expect(body.contains("cannot read /nonexistent.json"))
            #expect(agent.settings.realm == "ops")
        }
    }
}

@Suite struct WAFAgentTests {
    @Test func attacksAreBlockedWithRuleIDsAndTagsAndCleanTrafficPasses() async throws {
        try await AgentTestHarness.withAgent(try WAFAgent(settings: WAFSettings())) { proxy in
            let attack = try await proxy.requestHeaders(.sample(uri: "/q?id=1%20UNION%20SELECT%20password%20FROM%20users"))
            #expect(attack.decision == .block(status: 403, body: "Forbidden", headers: nil))
            #expect(attack.audit.ruleIDs == ["100101"])
            #expect(attack.audit.tags.contains("attack-sqli"))
            #expect(attack.audit.custom["anomaly_score"] == .number(5))
            let clean = try await proxy.requestHeaders(.sample(uri: "/products?page=2&sort=price"))
            #expect(clean.decision == .allow)
            #expect(clean.audit.ruleIDs.isEmpty)
        }
    }

    @Test func bodiesAreInspectedWithTheHeadScoreCarriedAcrossChunks() async throws {
        let agent = try WAFAgent(settings: WAFSettings())
        try await AgentTestHarness.withAgent(agent) { proxy in
            let headers = ["content-type": ["application/x-www-form-urlencoded"], "content-length": ["40"]]
            // 100203 (score 4) in the query; 100205 (3) in the body: 7 ≥ 5 blocks on the body.
            let head = try await proxy.requestHeaders(.sample(method: "POST", uri: "/c?next=javascript:x", headers: headers, correlationID: "b1"))
            #expect(head.decision == .allow)
            #expect(head.audit.ruleIDs == ["100203"])
            #expect(agent.trackedCount == 1)
            let body = try await proxy.requestBodyChunk(.sample(Array("comment=%3Cimg%20src=x%3E".utf8), correlationID: "b1"))
            #expect(body.decision == .block(status: 403, body: "Forbidden", headers: nil))
            #expect(body.audit.ruleIDs == ["100205"])
            #expect(body.audit.custom["anomaly_score"] == .number(7))
            #expect(agent.trackedCount == 0)
            // A pattern split across two streamed chunks is still seen.
            _ = try await proxy.requestHeaders(.sample(method: "POST", uri: "/c", headers: headers, correlationID: "b2"))
            let first = try await proxy.requestBodyChunk(.sample(Array("x=1 UNION ".utf8), correlationID: "b2", isLast: false))
            #expect(first.decision == .allow)
            let second = try await proxy.requestBodyChunk(.sample(Array("SELECT 2".utf8), correlationID: "b2"))
            #expect(second.audit.ruleIDs == ["100101"])
            #expect(second.decision != .allow)
        }
    }

    @Test func detectOnlyAllowsWithTheAuditDataAndConfigureSwitchesModes() async throws {
        var s = WAFSettings()
        s.detectOnly = true
        let agent = try WAFAgent(settings: s)
        try await AgentTestHarness.withAgent(agent) { proxy in
            let r = try await proxy.requestHeaders(.sample(uri: "/x?q=%3Cscript%3E"))
            #expect(r.decision == .allow)
            #expect(r.audit.ruleIDs == ["100201"])
            #expect(r.audit.tags.contains("detect-only"))
            let ok = try await proxy.configure(.object(["detect-only": .bool(false), "block-status": .number(406),
                                                        "exclusion": .object(["rule-ids": .string("100201"), "path-prefix": .string("/cms/")])]))
            #expect(ok.decision == .allow)
            #expect(try await proxy.requestHeaders(.sample(uri: "/x?q=%3Cscript%3E")).decision == .block(status: 406, body: "Forbidden", headers: nil))
            #expect(try await proxy.requestHeaders(.sample(uri: "/cms/edit?q=%3Cscript%3E")).decision == .allow)
            let bad = try await proxy.configure(.object(["paranoia-level": .number(9)]), correlationID: "c2")
            guard case .block(500, let body?, _) = bad.decision else { Issue.record("accepted"); return }
            #expect(body.contains("paranoia-level must be 1 to 4"))
        }
    }

    @Test func trackedRequestsAreBoundedAndForgottenOnCancel() async throws {
        let agent = try WAFAgent(settings: WAFSettings())
        let headers = ["content-length": ["10"]]
        for i in 0..<(WAFAgent.maxTrackedRequests + 50) {
            _ = await agent.requestHeaders(.sample(method: "POST", uri: "/u", headers: headers, correlationID: "t\(i)"))
        }
        #expect(agent.trackedCount == WAFAgent.maxTrackedRequests)
        await agent.cancelled(CancelMessage(correlationID: "t\(WAFAgent.maxTrackedRequests + 49)", reason: .clientDisconnect, timestampMs: 0))
        #expect(agent.trackedCount == WAFAgent.maxTrackedRequests - 1)
    }
}

@Suite struct RepeatedConfigureTests {
    /// The proxy sends an agent's settings on every connection: the same settings again keep the
    /// WAF's per-request state (a body still scores on top of its head after a reconnect).
    @Test func theSameSettingsAgainChangeNothing() async throws {
        let config: AgentJSON = .object(["paranoia-level": .number(1)])
        let agent = try WAFAgent(settings: WAFSettings())
        try await agent.configure(config, version: nil)
        _ = await agent.requestHeaders(.sample(method: "POST", uri: "/c?next=javascript:x", headers: ["content-length": ["9"]], correlationID: "k"))
        #expect(agent.trackedCount == 1)
        try await agent.configure(config, version: nil)
        #expect(agent.trackedCount == 1)
        try await agent.configure(.object(["paranoia-level": .number(2)]), version: nil)
        #expect(agent.trackedCount == 0)
        #expect(agent.settings.paranoiaLevel == 2)
    }
}
