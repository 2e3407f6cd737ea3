import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The main loop of an agent executable.
public enum AgentProcess {
    /// Runs `server` until SIGTERM or SIGINT, then stops it (the socket file is removed) and
    /// returns.
    public static func run<H: AgentHandler>(_ server: AgentServer<H>) async throws {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let (signals, continuation) = AsyncStream<Int32>.makeStream()
        let sources = [SIGTERM, SIGINT].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { continuation.yield(sig) }
            s.resume()
            return s
        }
        try await server.start()
        for await _ in signals { break }
        await server.stop()
        for s in sources { s.cancel() }
    }
}
