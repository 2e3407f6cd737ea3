public import SentinelProxy

extension ProxyServer {
    /// Starts serving `snapshot`, runs `body` with the first listener's port, and shuts down
    /// (graceful, 1 s) whether `body` returned or threw.
    public func serving<T>(_ snapshot: ServerSnapshot, _ body: (Int) async throws -> T) async throws -> T {
        let bound = try await start(snapshot: snapshot)
        let result: T
        do {
            result = try await body(bound[0].port)
        } catch {
            _ = await shutdown(gracefulTimeout: .seconds(1))
            throw error
        }
        _ = await shutdown(gracefulTimeout: .seconds(1))
        return result
    }
}

/// Runs `body` against a proxy (one event loop) serving `snapshot`, with the server and its
/// first listener's port; the server is shut down afterwards.
public func withProxy(_ snapshot: ServerSnapshot, _ body: (ProxyServer, Int) async throws -> Void) async throws {
    let server = ProxyServer(eventLoopCount: 1)
    try await server.serving(snapshot) { try await body(server, $0) }
}
