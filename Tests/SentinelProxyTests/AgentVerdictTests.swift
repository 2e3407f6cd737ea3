import SentinelAgentProtocol
import Testing

@testable import SentinelProxy

/// How one step's agent answers become one verdict (pure).
@Suite struct AgentVerdictTests {
    static let open = AgentVerdicts.Member(filterID: "fo", agentID: "a", failureMode: .open)
    static let closed = AgentVerdicts.Member(filterID: "fc", agentID: "b", failureMode: .closed)

    func answer(_ v: FilterVerdict) -> LocalAnswer? {
        if case .answer(let a) = v { return a }
        return nil
    }

    @Test func allowsMergeHeaderOpsInFilterOrderAndChallengeIsAllow() {
        let v = AgentVerdicts.merge([Self.open, Self.closed], [
            .response(AgentResponse(requestHeaders: [.set(name: "X-A", value: "1")], responseHeaders: [.add(name: "X-R", value: "a")])),
            .response(AgentResponse(decision: .challenge(challengeType: "captcha", params: [:]), requestHeaders: [.remove(name: "Cookie")])),
        ], routeID: "r")
        guard case .proceed(let req, let resp) = v else { Issue.record("\(v)"); return }
        #expect(req == HeaderEdits(rename: [], set: [("X-A", "1")], add: [], remove: ["Cookie"]))
        #expect(resp == HeaderEdits(rename: [], set: [], add: [("X-R", "a")], remove: []))
    }

    @Test func aLaterBlockWinsOverAnEarlierFailure() {
        let v = AgentVerdicts.merge([Self.closed, Self.open], [
            .failure(.timeout), .response(AgentResponse(decision: .block(status: 403, body: "no", headers: ["X-Why": "rule"]))),
        ], routeID: "r")
        let a = answer(v)
        #expect(a?.status == 403 && a?.content == .text("no") && a?.fields == [LocalAnswer.Field(name: "X-Why", value: "rule")])
    }

    @Test func failClosedGivesTheOriginalsStatusesAndFailOpenSkips() {
        let timeout = answer(AgentVerdicts.merge([Self.closed], [.failure(.timeout)], routeID: "r"))
        #expect(timeout?.status == 504 && timeout?.content == .text("Gateway timeout"))
        for f: AgentCallFailure in [.unavailable, .breakerOpen, .connectionLost, .queueFull, .invalidResponse] {
            let a = answer(AgentVerdicts.merge([Self.closed], [.failure(f)], routeID: "r"))
            #expect(a?.status == 503 && a?.content == .text("Service unavailable"), "\(f)")
        }
        guard case .proceed(nil, nil) = AgentVerdicts.merge([Self.open], [.failure(.timeout)], routeID: "r") else {
            Issue.record("fail-open should proceed"); return
        }
    }

    @Test func redirectIsA30xWithLocationAndBadValuesAreNotWritten() {
        let r = answer(AgentVerdicts.merge([Self.open], [.response(AgentResponse(decision: .redirect(url: "/login", status: 301)))], routeID: "r"))
        #expect(r?.status == 301 && r?.fields == [LocalAnswer.Field(name: "Location", value: "/login")])
        let odd = answer(AgentVerdicts.merge([Self.open], [.response(AgentResponse(decision: .redirect(url: "/x", status: 200)))], routeID: "r"))
        #expect(odd?.status == 302)
        let split = answer(AgentVerdicts.merge([Self.open], [.response(AgentResponse(decision: .redirect(url: "/x\r\nSet-Cookie: a=1", status: 302)))], routeID: "r"))
        #expect(split?.status == 503)
        // Header ops with a bad name or value, or framing fields, are dropped.
        let e = AgentVerdicts.edits([.set(name: "Bad Name", value: "v"), .set(name: "X-Ok", value: "a\nb"), .set(name: "Content-Length", value: "1"), .add(name: "X-Fine", value: "1")])
        #expect(e == HeaderEdits(rename: [], set: [], add: [("X-Fine", "1")], remove: []))
        let blockStatus = answer(AgentVerdicts.merge([Self.open], [.response(AgentResponse(decision: .block(status: 42, body: nil, headers: nil)))], routeID: "r"))
        #expect(blockStatus?.status == 403 && blockStatus?.content == .text("Blocked by agent"))
    }

    @Test func skippedMembersDoNotCount() {
        guard case .proceed(nil, nil) = AgentVerdicts.merge([Self.closed, Self.open], [.skipped, .response(AgentResponse())], routeID: "r") else {
            Issue.record("skipped agents should not decide"); return
        }
    }
}
