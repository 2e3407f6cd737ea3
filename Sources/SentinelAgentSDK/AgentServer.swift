public import Logging
public import NIOCore
import NIOPosix
public import SentinelAgentProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An agent's Unix-socket server: accepts proxy connections, answers the handshake, runs events
/// concurrently through the handler and answers Ping with Pong.
///
/// ```swift
/// let server = AgentServer(socketPath: "/run/sentinel/my-agent.sock", handler: MyAgent())
/// try await server.run()     // until stop()
/// ```
public final class AgentServer<Handler: AgentHandler>: Sendable {
    public struct Options: Sendable {
        /// Events running at once per connection; reading pauses at the limit (default 256).
        public var maxInFlightPerConnection = 256
        /// Connections accepted at once; more are closed at once (default 64).
        public var maxConnections = 64
        /// The largest frame accepted (default and at most 16 MiB).
        public var maxFrameLength: UInt32 = AgentFrame.maxLength
        /// The socket file's permissions (default 0660: the proxy's group may connect).
        public var socketMode: UInt32 = 0o660
        public init() {}
    }

    public let socketPath: String
    public let handler: Handler
    public let options: Options
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let listener = Mutex<(any Channel)?>(nil)
    let connections = Atomic<Int>(0)

    public init(socketPath: String, handler: Handler, options: Options = Options(),
                logger: Logger = Logger(label: "sentinel.agent")) {
        self.socketPath = socketPath
        self.handler = handler
        self.options = options
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Binds the socket (replacing a stale socket file) and starts accepting.
    public func start() async throws {
        let handler = self.handler
        let logger = self.logger
        let options = self.options
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                let open = connections.wrappingAdd(1, ordering: .relaxed).newValue
                channel.closeFuture.whenComplete { [self] _ in connections.wrappingSubtract(1, ordering: .relaxed) }
                if open > options.maxConnections {
                    logger.warning("agent_connection_refused", metadata: ["reason": "more than \(options.maxConnections) connections"])
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AgentChannelHandler(
                        handler: handler, logger: logger, maxInFlight: options.maxInFlightPerConnection,
                        maxFrameLength: options.maxFrameLength))
                }
            }
            .childChannelOption(.autoRead, value: true)
            .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true)
            .get()
        chmod(socketPath, mode_t(options.socketMode))
        listener.withLock { $0 = channel }
        logger.info("agent_listening", metadata: ["socket": "\(socketPath)", "agent_id": "\(handler.capabilities.agentID)"])
    }

    /// Starts (unless started) and returns when the server is stopped.
    public func run() async throws {
        if listener.withLock({ $0 }) == nil { try await start() }
        guard let channel = listener.withLock({ $0 }) else { return }
        try? await channel.closeFuture.get()
    }

    /// Stops accepting, removes the socket file and closes every connection (their running
    /// events are cancelled). The server cannot be started again.
    public func stop() async {
        let channel = listener.withLock { c -> (any Channel)? in defer { c = nil }; return c }
        if let channel {
            try? await channel.close()
            unlink(socketPath)
            logger.info("agent_stopped", metadata: ["socket": "\(socketPath)"])
        }
        try? await group.shutdownGracefully()
    }
}
