import NIOCore
import NIOPosix
import SentinelTLS

/// The pool's transport on a NIO event loop: TCP channels made by `ClientBootstrap` (or by an
/// injected `UpstreamConnector` in tests), TLS by `TLSClientHandler` in front of the
/// connection's handler, timers on the loop.
final class NIOUpstreamTransport: UpstreamTransport {
    /// The loop every connection of the pool (and every exchange using it) runs on.
    let eventLoop: any EventLoop
    /// Opens channels to targets; nil: TCP sockets (`openSocket`).
    let connector: (any UpstreamConnector)?

    init(eventLoop: any EventLoop, connector: (any UpstreamConnector)? = nil) {
        self.eventLoop = eventLoop
        self.connector = connector
    }

    func open(
        _ key: UpstreamPool.Key, address: UpstreamAddress, generation: UInt64, limits: UpstreamPool.Limits, tls: UpstreamTLS?,
        site: (any UpstreamSite)?, pool: UpstreamPool, done: @escaping (UpstreamPool.Acquired) -> Void
    ) {
        let tlsHandler: NIOLoopBound<TLSClientHandler>?
        do throws(TLSError) {
            if let tls {
                tlsHandler = NIOLoopBound(
                    try makeTLSHandler(key, tls: tls, handshakeTimeout: limits.connectTimeout, pool: pool), eventLoop: eventLoop)
            } else {
                tlsHandler = nil
            }
        } catch {
            pool.openFailed(key)
            done(.failure(.tlsHandshake(error)))
            return
        }
        let handler = NIOLoopBound(UpstreamChannelHandler(), eventLoop: eventLoop)
        let connected: EventLoopFuture<any Channel>
        if let connector {
            connected = connector.connect(to: address, limits: limits, eventLoop: eventLoop, handler: handler.value)
        } else {
            connected = openSocket(to: address, limits: limits, handler: handler, tls: tlsHandler)
        }
        let injected = connector != nil
        let loop = eventLoop
        let bound = NIOLoopBound((pool: pool, done: done), eventLoop: eventLoop)
        connected.whenComplete { result in
            let (pool, done) = bound.value
            switch result {
            case .failure(let error):
                pool.openFailed(key)
                if case ChannelError.connectTimeout = error { done(.failure(.connectTimeout)) } else { done(.failure(.connectFailed(error))) }
            case .success(let channel):
                let link = handler.value
                link.channel = channel
                let connection = UpstreamConnection(
                    link: link, key: key, createdNanos: pool.clock.monotonicNanos(), tlsContext: tls?.context,
                    address: address, generation: generation)
                link.connection = connection
                connection.pool = pool
                let forget = NIOLoopBound((pool, connection), eventLoop: loop)
                channel.closeFuture.whenComplete { _ in forget.value.0.forget(forget.value.1) }
                guard let tlsHandler else {
                    done(.success((connection, false)))
                    return
                }
                if injected {
                    // An injected connector made the channel: TLS goes in front of its handler
                    // now (handlerAdded starts the handshake on the active channel).
                    do {
                        guard channel.isActive else { throw TLSError(.unexpectedEOF, "connection closed before the handshake") }
                        try channel.pipeline.syncOperations.addHandler(tlsHandler.value, position: .first)
                    } catch {
                        channel.close(promise: nil)
                        done(.failure(.tlsHandshake(error as? TLSError ?? TLSError(.internal, "\(error)"))))
                        return
                    }
                }
                // Handed over once the handshake completed; a failed one closes the channel
                // itself (`forget` then gives the slot back).
                tlsHandler.value.whenHandshakeCompletes { outcome in
                    switch outcome {
                    case .success: done(.success((connection, false)))
                    case .failure(let error): done(.failure(.tlsHandshake(error)))
                    }
                }
            }
        }
    }

    /// A TCP connection to `address`, with `handler` as its pipeline's handler and, for TLS,
    /// `tls` in front of it (the handshake starts when TCP is up).
    private func openSocket(
        to address: UpstreamAddress, limits: UpstreamPool.Limits, handler: NIOLoopBound<UpstreamChannelHandler>,
        tls: NIOLoopBound<TLSClientHandler>?
    ) -> EventLoopFuture<any Channel> {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(limits.connectTimeout.timeAmount)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: ProxyServer.writeWaterMark)
            .channelOption(.maxMessagesPerRead, value: ProxyServer.maxMessagesPerRead)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.value) }
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
        switch address {
        case .resolved(let socketAddress): return bootstrap.connect(to: socketAddress)
        case .name(let host, let port): return bootstrap.connect(host: host, port: port)
        }
    }

    /// The TLS handler of a new connection to `key`'s target: its name, the cached session,
    /// and a callback that keeps the sessions the server issues for the next connection.
    private func makeTLSHandler(
        _ key: UpstreamPool.Key, tls: UpstreamTLS, handshakeTimeout: Duration, pool: UpstreamPool
    ) throws(TLSError) -> TLSClientHandler {
        let name = tls.serverNames[key.target]
        let context = tls.context
        let sessions = pool.sessions
        return try TLSClientHandler(
            context: context, serverName: name, session: sessions.session(for: key, context: context, serverName: name),
            handshakeTimeout: handshakeTimeout, upstream: tls.upstream, metrics: pool.tlsMetrics
        ) { session in
            sessions.store(session, for: key, context: context, serverName: name)
        }
    }

    func schedule(after delay: Duration, _ work: @escaping () -> Void) -> any UpstreamTimer {
        let bound = NIOLoopBound(work, eventLoop: eventLoop)
        return NIOTimer.once(eventLoop.scheduleTask(in: delay.timeAmount) { bound.value() })
    }

    func scheduleRepeated(every interval: Duration, _ work: @escaping () -> Void) -> any UpstreamTimer {
        let bound = NIOLoopBound(work, eventLoop: eventLoop)
        return NIOTimer.repeated(
            eventLoop.scheduleRepeatedTask(initialDelay: interval.timeAmount, delay: interval.timeAmount) { _ in bound.value() })
    }
}

@available(*, unavailable)
extension NIOUpstreamTransport: Sendable {}

/// A task scheduled on a NIO event loop.
enum NIOTimer: UpstreamTimer {
    case once(Scheduled<Void>)
    case repeated(RepeatedTask)

    func cancel() {
        switch self {
        case .once(let task): task.cancel()
        case .repeated(let task): task.cancel()
        }
    }
}

