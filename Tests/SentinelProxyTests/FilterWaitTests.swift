import Foundation
import SentinelPolicy
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// The asynchronous filter seam end to end over real sockets: a test-only filter that always
/// waits hands each call to the test, which then answers it (or does not). Proves the host keeps
/// the head, stops, resumes on its loop, and cancels the wait when the client leaves or the
/// request timeout passes.
@Suite struct FilterWaitTests {
    /// One call of the waiting filter: how to answer it, and what the path and body-less head said.
    struct Call: Sendable {
        var path: String
        var waker: FilterWaker
    }

    /// A filter that waits on every request and reports each call and each cancellation.
    ///
    /// The test waits for them with blocking waits (bounded), not `await`: the proxy calls the
    /// filter on its own event loop threads, and an awaiting test would depend on a free thread
    /// of the cooperative pool, which other tests' blocking clients can hold for seconds.
    final class WaitingFilter: RequestFilter, PendingFilter, @unchecked Sendable {
        private let state = Mutex<(calls: [Call], cancellations: [FilterCancelReason])>(([], []))
        private let callSignal = DispatchSemaphore(value: 0)
        private let cancelSignal = DispatchSemaphore(value: 0)

        var mayWait: Bool { true }

        func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
            guard let waker = request.waker else { return .failed(.unavailable("no waker")) }
            let call = Call(path: request.facts.path, waker: waker)
            state.withLock { $0.calls.append(call) }
            callSignal.signal()
            return .wait(self)
        }

        func cancel(_ reason: FilterCancelReason) {
            state.withLock { $0.cancellations.append(reason) }
            cancelSignal.signal()
        }

        /// The next call (in order), waiting up to 20 s for it.
        func nextCall() -> Call? {
            guard callSignal.wait(timeout: .now() + 20) == .success else { return nil }
            return state.withLock { $0.calls.removeFirst() }
        }

        /// The next cancellation, waiting up to 20 s for it.
        func nextCancellation() -> FilterCancelReason? {
            guard cancelSignal.wait(timeout: .now() + 20) == .success else { return nil }
            return state.withLock { $0.cancellations.removeFirst() }
        }
    }

    static func snapshot(upstreamPort: Int, filter: WaitingFilter, mode: FilterFailureMode = .closed, requestTimeout: Duration = .seconds(30)) throws -> ServerSnapshot {
        var s = try ProxyTests.snapshot(upstreamPort: upstreamPort)
        s.filterChains = [.none, FilterChain(request: [.init(id: "waiter", type: "test", failureMode: mode, filter: filter)])]
        s.listeners[0].requestTimeout = requestTimeout
        return s
    }

    static func edits(_ name: String, _ value: String) -> HeaderEdits {
        HeaderEdits(rename: [], set: [.init(name: name, value: value)], add: [], remove: [])
    }

    @Test func pendingThenProceedForwardsTheHeadAndBodyWithTheVerdictsEdits() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("proxied") }
        defer { Task { await upstream.shutdown() } }
        let filter = WaitingFilter()
        let metrics = MetricsRegistry()
        try await ProxyServer(eventLoopCount: 1, metrics: metrics).serving(try Self.snapshot(upstreamPort: upstream.port, filter: filter)) { port in
            let c = try RawClient(port: port)
            // The head, and the body behind it, arrive while the filter waits.
            c.send("POST /one HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
            let call = try #require(filter.nextCall())
            #expect(call.path == "/one")
            #expect(upstream.requests.isEmpty)
            call.waker.resume(.proceed(requestEdits: Self.edits("X-Verdict", "allowed")))
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.body == "proxied")
            let seen = try #require(upstream.requests.first)
            #expect(seen.requestLine == "POST /one HTTP/1.1")
            #expect(seen.header("x-verdict") == ["allowed"])
            #expect(seen.body == Array("hello".utf8))
            // The connection goes on: the next request waits and proceeds too.
            c.send("GET /two HTTP/1.1\r\nHost: h\r\n\r\n")
            let second = try #require(filter.nextCall())
            #expect(second.path == "/two")
            // A second verdict for the first call is stale and ignored.
            call.waker.resume(.answer(LocalAnswer(status: 418, content: .error, keepAlive: true)))
            second.waker.resume(.proceed(requestEdits: nil))
            #expect(try c.readResponse().status == 200)
            #expect(upstream.requests.count == 2)
        }
        #expect(metrics.filters.value(filter: "waiter", action: "wait") == 2)
    }

    @Test func pendingThenAnswerAnswersWithoutTheUpstream() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("proxied") }
        defer { Task { await upstream.shutdown() } }
        let filter = WaitingFilter()
        try await ProxyTests.withProxy(try Self.snapshot(upstreamPort: upstream.port, filter: filter)) { port in
            let c = try RawClient(port: port)
            c.send("GET /blocked HTTP/1.1\r\nHost: h\r\n\r\n")
            let call = try #require(filter.nextCall())
            call.waker.resume(.answer(LocalAnswer(status: 403, content: .json("{\"blocked\":true}"), keepAlive: true)))
            let r = try c.readResponse()
            #expect(r.status == 403)
            #expect(r.body == "{\"blocked\":true}")
            #expect(upstream.requests.isEmpty)
            // Kept alive: the next request is served (and waited for) normally.
            c.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
            try #require(filter.nextCall()).waker.resume(.proceed(requestEdits: nil))
            #expect(try c.readResponse().status == 200)
        }
    }

    @Test(arguments: [FilterFailureMode.open, .closed])
    func aVerdictThatFailedFollowsTheFailureMode(mode: FilterFailureMode) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("proxied") }
        defer { Task { await upstream.shutdown() } }
        let filter = WaitingFilter()
        let metrics = MetricsRegistry()
        try await ProxyServer(eventLoopCount: 1, metrics: metrics).serving(try Self.snapshot(upstreamPort: upstream.port, filter: filter, mode: mode)) { port in
            let c = try RawClient(port: port)
            c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            try #require(filter.nextCall()).waker.resume(.failed(.timeout))
            #expect(try c.readResponse().status == (mode == .open ? 200 : 504))
            c.send("GET /y HTTP/1.1\r\nHost: h\r\n\r\n")
            try #require(filter.nextCall()).waker.resume(.failed(.unavailable("agent socket refused")))
            #expect(try c.readResponse().status == (mode == .open ? 200 : 503))
        }
        #expect(metrics.filters.value(filter: "waiter", action: "failed_\(mode.rawValue)") == 2)
    }

    @Test func aClientThatClosesWhilePendingCancelsTheWait() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("proxied") }
        defer { Task { await upstream.shutdown() } }
        let filter = WaitingFilter()
        let metrics = MetricsRegistry()
        try await ProxyServer(eventLoopCount: 1, metrics: metrics).serving(try Self.snapshot(upstreamPort: upstream.port, filter: filter)) { port in
            var c: RawClient? = try RawClient(port: port)
            c?.send("GET /leaving HTTP/1.1\r\nHost: h\r\n\r\n")
            let call = try #require(filter.nextCall())
            c = nil  // closes the socket
            #expect(filter.nextCancellation() == .clientGone)
            // A verdict after the cancellation is ignored (nothing to resume, nothing sent upstream).
            call.waker.resume(.proceed(requestEdits: nil))
            // The server still serves others.
            let other = try RawClient(port: port)
            other.send("GET /other HTTP/1.1\r\nHost: h\r\n\r\n")
            try #require(filter.nextCall()).waker.resume(.proceed(requestEdits: nil))
            #expect(try other.readResponse().status == 200)
            #expect(upstream.requests.map(\.requestLine) == ["GET /other HTTP/1.1"])
        }
        #expect(metrics.filters.value(filter: "waiter", action: "cancelled_client_gone") == 1)
    }

    @Test func theRequestTimeoutEndsTheWaitWith504() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("proxied") }
        defer { Task { await upstream.shutdown() } }
        let filter = WaitingFilter()
        try await ProxyTests.withProxy(
            try Self.snapshot(upstreamPort: upstream.port, filter: filter, requestTimeout: .milliseconds(300))
        ) { port in
            let c = try RawClient(port: port)
            c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
            let call = try #require(filter.nextCall())
            let r = try c.readResponse()
            #expect(r.status == 504)
            #expect(r.header("Connection")?.lowercased() == "close")
            #expect(filter.nextCancellation() == .timeout)
            #expect(c.isClosedByServer())
            call.waker.resume(.proceed(requestEdits: nil))
            #expect(upstream.requests.isEmpty)
        }
    }
}
