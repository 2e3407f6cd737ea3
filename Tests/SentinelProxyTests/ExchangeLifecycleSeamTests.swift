import NIOCore
import NIOEmbedded
import SentinelHTTP1
import Testing

@testable import SentinelProxy

/// The exchange's life cycle and timeouts as `ProxyExchange` performs them: a whole exchange
/// through the recording downstream and embedded upstream channels of `ExchangeSeamTests`, with
/// the manual clock. Each test checks that the request ends exactly once, however its end comes.
@Suite struct ExchangeLifecycleSeamTests {
    static let second: UInt64 = 1_000_000_000

    /// The client leaving after the exchange finished ends nothing a second time.
    @Test func aClientClosingAfterTheEndChangesNothing() throws {
        let rig = try Rig()
        let exchange = rig.exchange(head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        exchange.start()
        let upstream = try #require(rig.connector.channels.first)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(rig.downstream.finished == [true])
        exchange.clientClosed()
        exchange.timerFired()
        exchange.upstreamClosed()
        #expect(rig.downstream.ended.map(\.status) == [204])
        #expect(rig.downstream.resets == 0 && rig.downstream.answers.isEmpty)
        #expect(exchange.lifecycle.isDone)
    }

    /// The client leaving mid-response ends the request once, as the client's doing, and the
    /// upstream connection (holding half a response) is not pooled.
    @Test func aClientLeavingMidResponseEndsTheRequestOnce() throws {
        let rig = try Rig()
        let exchange = rig.exchange(head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        exchange.start()
        let upstream = try #require(rig.connector.channels.first)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        exchange.clientClosed()
        exchange.clientClosed()
        #expect(rig.downstream.ended.count == 1)
        #expect(rig.downstream.ended.first?.error?.kind == .clientClosed)
        #expect(rig.downstream.answers.isEmpty && rig.downstream.finished.isEmpty)
        #expect(rig.pool.idleCount == 0)
    }

    /// A pooled connection the upstream had closed is replaced once by a fresh one to the same
    /// target (no failure counted, no new pick); a fresh connection closing before any response
    /// is an attempt failure (retried within the default rules), and the request ends once.
    @Test func aStalePooledConnectionIsReplayedOnceThenFails() throws {
        let rig = try Rig()
        // A first exchange leaves its connection in the pool.
        let first = rig.exchange(head: "GET /a HTTP/1.1\r\nHost: u\r\n\r\n")
        first.start()
        let pooled = try #require(rig.connector.channels.first)
        try pooled.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(rig.pool.idleCount == 1)
        _ = try rig.outbound(pooled)

        let downstream = RecordingDownstream()
        let second = rig.exchange(head: "GET /b HTTP/1.1\r\nHost: u\r\n\r\n", downstream: downstream)
        second.start()
        #expect(try rig.outbound(pooled) == "GET /b HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(second.lifecycle.reused)
        try pooled.close().wait()
        // Replayed on a fresh connection to the same target.
        #expect(rig.connector.channels.count == 2)
        #expect(second.lifecycle.staleReplayed && !second.lifecycle.reused)
        #expect(downstream.ended.isEmpty)
        let fresh = rig.connector.channels[1]
        #expect(try rig.outbound(fresh) == "GET /b HTTP/1.1\r\nHost: u\r\n\r\n")
        // Every further connection closes before answering, until the attempts run out.
        var closed = 1
        while downstream.ended.isEmpty, closed < rig.connector.channels.count, closed < 6 {
            try rig.connector.channels[closed].close().wait()
            closed += 1
        }
        #expect(rig.connector.channels.count <= 4)  // the pooled one, its replay, at most 2 retries
        #expect(downstream.ended.count == 1)
        #expect(downstream.ended.first?.error?.kind == .closedBeforeResponse)
        #expect(second.lifecycle.isDone)
    }

    /// A client that stops reading is checked at least once a second and cut at the listener's
    /// request timeout (the exchange's `clientStallTimeout`), once.
    @Test func aStalledClientIsCutAtTheStallTimeout() throws {
        let rig = try Rig()
        let exchange = rig.exchange(head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n", clientStall: .seconds(5))
        exchange.start()
        let upstream = try #require(rig.connector.channels.first)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        rig.downstream.isWritable = false
        let start = rig.clock.now
        exchange.armTimer()
        #expect(rig.downstream.deadlines.last == start + Self.second)
        rig.clock.set(start + Self.second)
        exchange.timerFired()  // the stall starts here
        #expect(rig.downstream.ended.isEmpty)
        rig.clock.set(start + 6 * Self.second)
        exchange.timerFired()
        #expect(rig.downstream.ended.count == 1)
        #expect(rig.downstream.ended.first?.error?.kind == .clientStalled)
        #expect(rig.downstream.resets == 1)  // the response had started: cut short
        exchange.timerFired()
        #expect(rig.downstream.ended.count == 1)
    }

    /// At the whole-request deadline, a body still being waited for (the upstream would take it)
    /// is the client's fault: 408, no failure against the target.
    @Test func aBodyStillArrivingAtTheRequestDeadlineIs408() throws {
        let rig = try Rig()
        let exchange = rig.exchange(
            head: "POST / HTTP/1.1\r\nHost: u\r\nContent-Length: 10\r\n\r\n", body: .contentLength(10))
        rig.downstream.requestBytes = ByteBuffer(string: "abc")
        exchange.start()
        #expect(exchange.lifecycle.name == .sending)
        // The upstream's request timeout is 60 s (the default).
        rig.clock.set(rig.clock.now + 60 * Self.second)
        exchange.timerFired()
        #expect(rig.downstream.answers.map(\.status) == [408])
        #expect(rig.downstream.answers.first?.keepAlive == false)
        #expect(rig.downstream.ended.first?.error?.kind == .clientBodyTooSlow)
        #expect(rig.pool.idleCount == 0)
    }
}
