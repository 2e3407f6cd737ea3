import SentinelHTTP1
import Testing

@testable import SentinelProxy

/// The filter chain as a value, without sockets: order, the first answer ending the chain,
/// failure modes, waiting and resuming, cancelling.
@Suite struct FilterRunTests {
    /// A synchronous filter with a fixed decision, adding a request header when it passes.
    struct Fixed: RequestFilter {
        var decision: @Sendable () -> FilterDecision
        var header: String?

        func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
            if let header { effects.editRequest(HeaderEdits(rename: [], set: [.init(name: header, value: "1")], add: [], remove: [])) }
            return decision()
        }
    }

    final class Pending: PendingFilter, @unchecked Sendable {
        var cancelled: [FilterCancelReason] = []
        func cancel(_ reason: FilterCancelReason) { cancelled.append(reason) }
    }

    final class Recorder: FilterObserver {
        var events: [String] = []
        func filterAnswered(_ entry: FilterChain.Entry, status: Int) { events.append("\(entry.id):answer:\(status)") }
        func filterFailed(_ entry: FilterChain.Entry, _ failure: FilterFailure, routeID: String) {
            events.append("\(entry.id):failed:\(failure.reason):\(entry.failureMode.rawValue)")
        }
        func filterWaits(_ entry: FilterChain.Entry) { events.append("\(entry.id):wait") }
        func filterCancelled(_ entry: FilterChain.Entry, _ reason: FilterCancelReason) { events.append("\(entry.id):cancel:\(reason.rawValue)") }
    }

    struct Observer: FilterObserver {
        let recorder: Recorder
        func filterAnswered(_ entry: FilterChain.Entry, status: Int) { recorder.filterAnswered(entry, status: status) }
        func filterFailed(_ entry: FilterChain.Entry, _ failure: FilterFailure, routeID: String) {
            recorder.filterFailed(entry, failure, routeID: routeID)
        }
        func filterWaits(_ entry: FilterChain.Entry) { recorder.filterWaits(entry) }
        func filterCancelled(_ entry: FilterChain.Entry, _ reason: FilterCancelReason) { recorder.filterCancelled(entry, reason) }
    }

    static func entry(_ id: String, _ mode: FilterFailureMode = .closed, header: String? = nil, _ decision: @escaping @Sendable () -> FilterDecision)
        -> FilterChain.Entry
    {
        .init(id: id, type: "test", failureMode: mode, filter: Fixed(decision: decision, header: header))
    }

    /// Runs `body` with a request for `GET /p`.
    static func withRequest<T>(_ body: (borrowing FilterRequest) -> T) -> T {
        let bytes = Array("GET /p HTTP/1.1\r\nHost: h\r\nOrigin: https://a.example\r\n\r\n".utf8)
        var parser = HTTP1RequestHeadParser()
        return bytes.withUnsafeBytes { p in
            guard case .head(let head) = parser.parse(p) else { fatalError("unparsed") }
            let request = FilterRequest(
                head: head, bytes: p, facts: RequestFacts(head, bytes: p), clientAddress: "192.0.2.1", scheme: "http", routeID: "r",
                traceID: "t", waker: nil)
            return body(request)
        }
    }

    @Test func filtersRunInOrderAndTheirEditsAccumulate() {
        let chain = FilterChain(request: [Self.entry("a", header: "x-a") { .next }, Self.entry("b", header: "x-b") { .next }])
        let recorder = Recorder()
        var run = FilterRun()
        let step = Self.withRequest { run.run(chain, $0, observer: Observer(recorder: recorder)) }
        guard case .proceed = step else { Issue.record("expected proceed, got \(step)"); return }
        #expect(run.effects.requestEdits?.sets.map { String(decoding: $0.name, as: UTF8.self) } == ["x-a", "x-b"])
        #expect(recorder.events.isEmpty)
        #expect(Self.withRequest { $0.header(Array("origin".utf8)) } == "https://a.example")
    }

    @Test func theFirstAnswerEndsTheChain() {
        let chain = FilterChain(request: [
            Self.entry("a") { .answer(LocalAnswer(status: 302, content: .empty, keepAlive: true)) },
            Self.entry("b") { Issue.record("b ran after a's answer"); return .next },
        ])
        let recorder = Recorder()
        var run = FilterRun()
        let step = Self.withRequest { run.run(chain, $0, observer: Observer(recorder: recorder)) }
        guard case .answer(let answer) = step else { Issue.record("expected an answer"); return }
        #expect(answer.status == 302)
        #expect(recorder.events == ["a:answer:302"])
    }

    @Test func aFailureFollowsTheFiltersFailureMode() {
        let chain = FilterChain(request: [
            Self.entry("open", .open) { .failed(.unavailable("down")) },
            Self.entry("closed", .closed) { .failed(.timeout) },
        ])
        let recorder = Recorder()
        var run = FilterRun()
        let step = Self.withRequest { run.run(chain, $0, observer: Observer(recorder: recorder)) }
        guard case .answer(let answer) = step else { Issue.record("expected an answer"); return }
        #expect(answer.status == 504)
        #expect(answer.error?.kind == .filterTimedOut)
        #expect(recorder.events == ["open:failed:unavailable:open", "closed:failed:timeout:closed"])
        // Unavailable and closed: 503.
        var other = FilterRun()
        let unavailable = FilterChain(request: [Self.entry("c") { .failed(.unavailable("refused")) }])
        guard case .answer(let refused) = Self.withRequest({ other.run(unavailable, $0, observer: Observer(recorder: recorder)) }) else {
            Issue.record("expected an answer")
            return
        }
        #expect(refused.status == 503)
    }

    @Test func aWaitResumesAfterTheFilterWaitedFor() {
        let pending = Pending()
        let chain = FilterChain(request: [
            Self.entry("first", header: "x-first") { .next },
            .init(id: "agent", type: "test", filter: Fixed(decision: { .wait(pending) }, header: nil)),
            Self.entry("last", header: "x-last") { .next },
        ])
        let recorder = Recorder()
        var run = FilterRun()
        guard case .wait(let p) = Self.withRequest({ run.run(chain, $0, observer: Observer(recorder: recorder)) }) else {
            Issue.record("expected a wait")
            return
        }
        #expect(p === pending)
        #expect(run.next == 1)
        let verdict = FilterVerdict.proceed(requestEdits: HeaderEdits(rename: [], set: [.init(name: "x-agent", value: "ok")], add: [], remove: []))
        let step = Self.withRequest { run.resume(chain, with: verdict, $0, observer: Observer(recorder: recorder)) }
        guard case .proceed = step else { Issue.record("expected proceed"); return }
        #expect(run.effects.requestEdits?.sets.map { String(decoding: $0.name, as: UTF8.self) } == ["x-first", "x-agent", "x-last"])
        #expect(recorder.events == ["agent:wait"])
    }

    @Test func aCancelledWaitTellsTheFilterOnce() {
        let pending = Pending()
        let chain = FilterChain(request: [.init(id: "agent", type: "test", filter: Fixed(decision: { .wait(pending) }, header: nil))])
        let recorder = Recorder()
        var run = FilterRun()
        _ = Self.withRequest { run.run(chain, $0, observer: Observer(recorder: recorder)) }
        run.cancel(chain, pending, .clientGone, observer: Observer(recorder: recorder))
        #expect(pending.cancelled == [.clientGone])
        #expect(recorder.events == ["agent:wait", "agent:cancel:client_gone"])
    }

    @Test func anAnswerKeepsTheConnectionOnlyWhenItMay() {
        let chain = FilterChain(request: [Self.entry("a") { .answer(LocalAnswer(status: 403, content: .error, keepAlive: true)) }])
        for keepAlive in [true, false] {
            var run = FilterRun()
            let verdict = Self.withRequest {
                FilterPhase.decide(&run, chain, request: $0, keepAlive: keepAlive, observer: Observer(recorder: Recorder()))
            }
            guard case .answer(let answer) = verdict else { Issue.record("expected an answer"); return }
            #expect(answer.keepAlive == keepAlive)
        }
    }
}
