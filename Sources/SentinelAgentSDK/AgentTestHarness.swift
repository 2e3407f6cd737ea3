public import SentinelAgentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Runs an agent in-process on a fresh socket and hands a connected `FakeProxy` to `body`;
/// everything is closed afterwards.
public enum AgentTestHarness {
    /// A socket path short enough for `sun_path` (108 bytes), unique per call.
    public static func temporarySocketPath() -> String {
        "/tmp/sentinel-agent-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    public static func withAgent<H: AgentHandler, T>(
        _ handler: H, options: AgentServer<H>.Options = .init(),
        handshake: HandshakeRequest? = HandshakeRequest(proxyVersion: "test"),
        _ body: (FakeProxy, AgentServer<H>) async throws -> T
    ) async throws -> T {
        let server = AgentServer(socketPath: temporarySocketPath(), handler: handler, options: options)
        try await server.start()
        let proxy: FakeProxy
        do { proxy = try await FakeProxy.connect(to: server.socketPath, handshake: handshake) } catch {
            await server.stop()
            throw error
        }
        do {
            let result = try await body(proxy, server)
            await proxy.close()
            await server.stop()
            return result
        } catch {
            await proxy.close()
            await server.stop()
            throw error
        }
    }

    public static func withAgent<H: AgentHandler, T>(
        _ handler: H, _ body: (FakeProxy) async throws -> T
    ) async throws -> T {
        try await withAgent(handler, options: .init()) { proxy, _ in try await body(proxy) }
    }
}

/// Events as the proxy would send them, for tests.
extension RequestHeadersEvent {
    public static func sample(
        method: String = "GET", uri: String = "/", headers: [String: [String]] = ["host": ["example.test"]],
        correlationID: String = "req-\(UInt32.random(in: 0...UInt32.max))", routeID: String? = "default",
        clientIP: String = "127.0.0.1:50000"
    ) -> RequestHeadersEvent {
        RequestHeadersEvent(
            correlationID: correlationID,
            metadata: RequestMetadata(correlationID: correlationID, requestID: "r-" + correlationID, clientIP: clientIP,
                                      routeID: routeID, timestamp: "2026-01-01T00:00:00.000000000+00:00"),
            method: method, uri: uri, headers: headers)
    }
}

extension RequestBodyChunkEvent {
    public static func sample(_ body: [UInt8], correlationID: String, isLast: Bool = true) -> RequestBodyChunkEvent {
        RequestBodyChunkEvent(BodyChunkEvent(correlationID: correlationID, data: body, isLast: isLast, totalSize: body.count,
                                             bytesTransferred: body.count))
    }
}

extension ResponseBodyChunkEvent {
    public static func sample(_ body: [UInt8], correlationID: String, isLast: Bool = true) -> ResponseBodyChunkEvent {
        ResponseBodyChunkEvent(BodyChunkEvent(correlationID: correlationID, data: body, isLast: isLast, totalSize: body.count,
                                              bytesTransferred: body.count))
    }
}
