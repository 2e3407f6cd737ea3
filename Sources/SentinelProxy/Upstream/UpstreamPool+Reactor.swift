import NIOCore
import SentinelReactor

#if canImport(Glibc)
import Glibc
#endif

/// The pool's transport on Sentinel's reactor: connections are endpoints of the client
/// connection's session (`ReactorUpstreamSite`), opened with a non-blocking connect (EPOLLOUT
/// and SO_ERROR complete it); an idle one is parked with the reactor, outside any session, and
/// adopted by the next exchange's session, whichever it is. Timers (connect deadlines, retry
/// back-off, the idle sweep) are short sessions of their own on the same reactor.
///
/// One per reactor, used only on its thread. Upstream TLS runs the `TLSEngine` client over the
/// endpoint (`ReactorTLSClient`), the handshake inside the connect deadline.
final class ReactorUpstreamTransport: UpstreamTransport {
    unowned let reactor: Reactor
    let allocator: ByteBufferAllocator
    /// Bytes queued on an upstream connection above which it counts as not writable (as NIO's
    /// high watermark, `ProxyServer.writeWaterMark`); writable again once drained.
    let highWater: Int

    init(reactor: Reactor, allocator: ByteBufferAllocator = ByteBufferAllocator(), highWater: Int = 128 * 1024) {
        self.reactor = reactor
        self.allocator = allocator
        self.highWater = highWater
    }

    func open(
        _ key: UpstreamPool.Key, address: UpstreamAddress, generation: UInt64, limits: UpstreamPool.Limits, tls: UpstreamTLS?,
        site: (any UpstreamSite)?, pool: UpstreamPool, done: @escaping (UpstreamPool.Acquired) -> Void
    ) {
        func refuse(_ error: UpstreamPool.AcquireError) {
            pool.openFailed(key)
            done(.failure(error))
        }
        guard let site = site as? ReactorUpstreamSite else {
            return refuse(.connectFailed(UpstreamReactorError.noSite))
        }
        guard let target = Self.reactorAddress(address) else {
            return refuse(.connectFailed(UpstreamReactorError.unresolvedName))
        }
        let link = ReactorUpstreamLink(
            transport: self, pool: pool, key: key, address: address, generation: generation, tls: tls, done: done)
        guard let endpoint = site.allocate(link) else {
            return refuse(.connectFailed(IOError(errnoCode: EMFILE, reason: "no free endpoint in the session")))
        }
        link.attached(to: site, as: endpoint, connecting: true)
        link.connectTimer = schedule(after: limits.connectTimeout) { [weak link] in link?.connectTimedOut() }
        reactor.act(.connect(endpoint, target), session: site.session)
    }

    /// The reactor's numeric address for a target (names are resolved on NIO only).
    static func reactorAddress(_ address: UpstreamAddress) -> SentinelReactor.SocketAddress? {
        guard case .resolved(let resolved) = address, let ip = resolved.ipAddress, let port = resolved.port else { return nil }
        return SentinelReactor.SocketAddress(host: ip, port: port)
    }

    func schedule(after delay: Duration, _ work: @escaping () -> Void) -> any UpstreamTimer {
        let timer = ReactorTimer(reactor: reactor, every: nil, first: delay, work: work)
        reactor.startSession(timer)
        return timer
    }

    func scheduleRepeated(every interval: Duration, _ work: @escaping () -> Void) -> any UpstreamTimer {
        let timer = ReactorTimer(reactor: reactor, every: interval, first: interval, work: work)
        reactor.startSession(timer)
        return timer
    }
}

@available(*, unavailable)
extension ReactorUpstreamTransport: Sendable {}

/// Why the reactor transport could not start a connect.
enum UpstreamReactorError: Error, CustomStringConvertible {
    /// The exchange's downstream has no reactor session to hold the connection.
    case noSite
    /// The target is a name; the reactor connects to addresses only.
    case unresolvedName

    var description: String {
        switch self {
        case .noSite: "no reactor session for the upstream connection"
        case .unresolvedName: "upstream names are not resolved on data-path \"reactor\" yet"
        }
    }
}

/// Where the upstream connections of one client connection live on the reactor: its session.
/// The session's driver owns it, sets `session` from its first event (`DriverIO.session`) and
/// forwards the events of every endpoint but `.downstream` here (`received`, `inputEnded`,
/// `drained`, `connected`, `failed`); when it ends the session it calls `closeAll()`.
final class ReactorUpstreamSite: UpstreamSite {
    /// The session's token.
    var session: UInt64 = 0
    /// Connections by endpoint number (0, the downstream, is never used).
    private var links: [ReactorUpstreamLink?]

    init(maxEndpoints: Int = 8) {
        links = Array(repeating: nil, count: max(2, maxEndpoints))
    }

    /// A free endpoint number for `link`; nil when the session has none left.
    func allocate(_ link: ReactorUpstreamLink) -> Endpoint? {
        for i in 1..<links.count where links[i] == nil {
            links[i] = link
            return Endpoint(UInt8(i))
        }
        return nil
    }

    func release(_ endpoint: Endpoint) {
        let i = Int(endpoint.raw)
        if i > 0, i < links.count { links[i] = nil }
    }

    func link(_ endpoint: Endpoint) -> ReactorUpstreamLink? {
        let i = Int(endpoint.raw)
        return i > 0 && i < links.count ? links[i] : nil
    }

    /// Connections attached now (tests).
    var attachedCount: Int { links.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    // MARK: - Events of the session's upstream endpoints

    func received(_ buffer: IOBuffer, on endpoint: Endpoint) { link(endpoint)?.received(buffer) }
    func inputEnded(on endpoint: Endpoint) { link(endpoint)?.inputEnded() }
    func drained(_ endpoint: Endpoint) { link(endpoint)?.drained() }
    func connected(_ endpoint: Endpoint) { link(endpoint)?.connected() }
    func failed(_ endpoint: Endpoint, _ error: ReactorError) { link(endpoint)?.failed(error) }

    /// The session ends: every connection still attached closes (never reused).
    func closeAll() {
        for case let link? in links { link.close() }
    }
}

@available(*, unavailable)
extension ReactorUpstreamSite: Sendable {}

/// A timer on the reactor: a session without sockets whose deadline is the timer's. Ends when
/// cancelled, after a one-shot fired, and (a repeating one) when the reactor drains.
final class ReactorTimer: ConnectionDriver, UpstreamTimer {
    unowned let reactor: Reactor
    let every: UInt64?
    let first: UInt64
    private var work: (() -> Void)?
    private var session: UInt64 = 0

    init(reactor: Reactor, every: Duration?, first: Duration, work: @escaping () -> Void) {
        self.reactor = reactor
        self.every = every.map { Self.milliseconds($0) }
        self.first = Self.milliseconds(first)
        self.work = work
    }

    private static func milliseconds(_ d: Duration) -> UInt64 {
        let ns = max(0, d.nanoseconds)
        return UInt64(ns / 1_000_000) + (ns % 1_000_000 == 0 ? 0 : 1)
    }

    func start(_ io: inout DriverIO) {
        session = io.session
        io.setDeadline(io.now.adding(milliseconds: first))
    }

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {}
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {}
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) {}

    func deadlineReached(_ io: inout DriverIO) {
        guard let work else { return }
        if let every {
            io.setDeadline(io.now.adding(milliseconds: every))
        } else {
            self.work = nil
        }
        work()
    }

    func drain(_ io: inout DriverIO) {
        guard every != nil else { return }
        work = nil
        io.setDeadline(nil)
    }

    func cancel() {
        guard work != nil else { return }
        work = nil
        reactor.act(.deadline(nil), session: session)
    }
}

@available(*, unavailable)
extension ReactorTimer: Sendable {}
