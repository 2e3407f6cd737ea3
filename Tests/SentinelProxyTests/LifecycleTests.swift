import NIOCore
import NIOEmbedded
import SentinelPolicy
import Testing

@testable import SentinelProxy

/// Handler lifecycles on an EmbeddedChannel.
@Suite struct LifecycleTests {
    /// Regression: the handler kept its context and the context kept the handler, so every
    /// closed connection leaked (about 4 KiB each, hundreds of MiB under connection churn).
    @Test func closedConnectionReleasesItsHandler() throws {
        let snapshot = ServerSnapshot(
            listeners: [.init(id: "main", port: 0)],
            router: try Router(routes: [RouteSpec(id: "health", paths: ["/health"], handler: 0)]),
            actions: [.builtin(.health)], instanceID: "t", version: "test")
        let loop = EmbeddedEventLoop()
        weak var released: ProxyConnectionHandler?
        do {
            let shared = ServerShared(snapshot: snapshot, metrics: MetricsRegistry(), clock: .system)
            let handler = ProxyConnectionHandler(
                shared: shared, listenerID: "main",
                routeCache: NIOLoopBoundBox([RouteCache()], eventLoop: loop),
                pool: UpstreamPool(eventLoop: loop, clock: .system), accessLog: AccessLogBuffer(eventLoop: loop))
            released = handler
            let channel = EmbeddedChannel(handler: handler, loop: loop)
            channel.pipeline.fireChannelActive()
            try channel.writeInbound(ByteBuffer(string: "GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
            let response = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(String(buffer: response).hasPrefix("HTTP/1.1 200"))
            _ = try? channel.finish()
        }
        loop.run()
        #expect(released == nil)
    }
}
