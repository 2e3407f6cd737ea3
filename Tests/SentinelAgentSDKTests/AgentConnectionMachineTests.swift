import SentinelAgentProtocol
import Testing

@testable import SentinelAgentSDK

private func handshakeFrame() throws -> AgentFrame {
    AgentFrame(type: .handshakeRequest, payload: try AgentCodec.encodeHandshake(HandshakeRequest(proxyVersion: "t")))
}

private func ready(maxInFlight: Int = 4) throws -> AgentConnectionMachine {
    var m = AgentConnectionMachine(maxInFlight: maxInFlight)
    guard case .handshake = m.received(try handshakeFrame()) else { throw MachineTestFailure() }
    _ = m.handshakeDecided(capabilities: AgentCapabilities(agentID: "a", name: "A", version: "1"), refusal: nil)
    return m
}

private struct MachineTestFailure: Error {}

private func event(_ cid: String) throws -> AgentFrame {
    try AgentCodec.frame(.requestHeaders, RequestHeadersEvent.sample(correlationID: cid))
}

@Suite struct AgentConnectionMachineTests {
    @Test func theFirstFrameMustBeAHandshake() throws {
        var m = AgentConnectionMachine()
        #expect(m.received(try event("x")) == .close(reason: "expected a HandshakeRequest, got requestHeaders"))
        #expect(m.state == .closed)
        var bad = AgentConnectionMachine()
        guard case .close(let reason) = bad.received(AgentFrame(type: .handshakeRequest, payload: Array("{}".utf8))) else {
            Issue.record("accepted a handshake without fields"); return
        }
        #expect(reason.hasPrefix("malformed HandshakeRequest"))
    }

    @Test func aRefusedHandshakeAnswersThenCloses() throws {
        var m = AgentConnectionMachine()
        _ = m.received(try handshakeFrame())
        #expect(!m.shouldRead)   // nothing is read while the handler decides
        let (frame, close) = m.handshakeDecided(capabilities: AgentCapabilities(agentID: "a", name: "A", version: "1"), refusal: "no")
        #expect(close)
        let answer = try AgentCodec.decode(HandshakeResponse.self, from: frame.payload)
        #expect(!answer.success)
        #expect(answer.error == "no")
        #expect(m.state == .closed)
    }

    @Test func eventsDispatchUpToTheLimitThenReadingPauses() throws {
        var m = try ready(maxInFlight: 2)
        guard case .dispatch(let a, .requestHeaders, _) = m.received(try event("a")),
              case .dispatch(let b, .requestHeaders, _) = m.received(try event("b")) else {
            Issue.record("not dispatched"); return
        }
        #expect(a != b)
        #expect(!m.shouldRead)
        m.completed(a)
        #expect(m.shouldRead)
    }

    @Test func pingIsAnsweredWithThePayloadAndCancelFindsTheEvent() throws {
        var m = try ready()
        let ping = AgentFrame(type: .ping, payload: Array(#"{"sequence":7,"timestamp_ms":1}"#.utf8))
        #expect(m.received(ping) == .send(AgentFrame(type: .pong, payload: ping.payload)))
        guard case .dispatch(let id, _, _) = m.received(try event("c-1")) else { Issue.record("not dispatched"); return }
        let cancel = try AgentCodec.frame(.cancel, CancelMessage(correlationID: "c-1", reason: .timeout, timestampMs: 5))
        #expect(m.received(cancel) == .cancel(ids: [id], message: CancelMessage(correlationID: "c-1", reason: .timeout, timestampMs: 5)))
        let other = try AgentCodec.frame(.cancel, CancelMessage(correlationID: "zz", reason: .manual, timestampMs: 5))
        guard case .cancel(let none, _) = m.received(other) else { Issue.record("cancel ignored"); return }
        #expect(none.isEmpty)
    }

    @Test func framesForTheProxyAreIgnoredAndASecondHandshakeCloses() throws {
        var m = try ready()
        guard case .ignore = m.received(AgentFrame(type: .agentResponse, payload: [])) else { Issue.record("not ignored"); return }
        guard case .ignore = m.received(AgentFrame(type: .pong, payload: [])) else { Issue.record("not ignored"); return }
        #expect(m.received(try handshakeFrame()) == .close(reason: "a second HandshakeRequest"))
    }

    @Test(arguments: [
        (#"{"correlation_id":"abc","data":"AA=="}"#, "abc"),
        (#"{"bytes_received":1,"correlation_id":"k7","data":""}"#, "k7"),
        (#"{"headers":{"x":["\"correlation_id\":\"evil\""]},"metadata":{"correlation_id":"m1"}}"#, "m1"),
        (#"{"correlation_id":"a\"b"}"#, "a\"b"),
        (#"{"data":"x"}"#, ""),
        ("", ""),
    ])
    func correlationIDsAreFoundWithoutDecodingTheEvent(payload: String, expected: String) {
        #expect(AgentConnectionMachine.correlationID(of: Array(payload.utf8)) == expected)
    }
}
