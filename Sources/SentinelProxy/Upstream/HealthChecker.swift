public import NIOCore
import NIOHTTP2
import NIOPosix
import SentinelHTTP1
import SentinelTLS

#if canImport(Glibc)
import Glibc
#endif

/// Active health checks (§5.7): probes every target of every upstream with a `health-check` every
/// `interval`, each probe bounded by `timeout`, and feeds the verdicts to `UpstreamHealth`.
///
/// It exists so probing is one small, replaceable component on one event loop of the server's
/// group: `ProxyServer.start` starts one, `reload` stops it and starts a new one for the new
/// configuration (the verdicts live in `UpstreamHealth`, so they survive), `shutdown` stops it.
/// Each target's first probe starts at a random point of its interval, so a fleet of targets is not
/// probed in lockstep. At most one probe per target runs at a time. HTTP probes send one
/// `GET <path>` with `Connection: close` per connection and judge only the response head, parsed
/// by the same strict parser the proxy uses; TCP probes only connect; gRPC probes make one
/// `grpc.health.v1.Health/Check` call over h2c on a fresh connection (`GRPCHealthProbeHandler`).
/// A probe of an upstream with `tls` runs over TLS with the upstream's own client context (the
/// same trust, name and client certificate as its traffic; a gRPC probe offers ALPN `h2`); a
/// failed handshake is an unhealthy verdict with its reason.
/// Every failure carries a short reason, which `UpstreamHealth` logs and the `upstreams` builtin shows.
public final class HealthChecker: Sendable {
    private let eventLoop: any EventLoop
    private let jobs: [Job]
    private let health: UpstreamHealth
    private let clock: ServerClock
    private let onResult: (@Sendable (String, String, Bool) -> Void)?
    /// Created on the loop by `start` (or `stop`, so that a later `start` does nothing).
    private let state: NIOLoopBoundBox<LoopState?>

    /// Probes `upstreams` (those with a `healthCheck`) once `start` is called.
    /// `onResult` gets every verdict too (upstream id, target address, success), after `health` has it.
    public init(
        upstreams: [UpstreamRuntime], eventLoop: any EventLoop, health: UpstreamHealth, clock: ServerClock,
        onResult: (@Sendable (String, String, Bool) -> Void)? = nil
    ) {
        self.onResult = onResult
        self.eventLoop = eventLoop
        self.health = health
        self.clock = clock
        jobs = upstreams.flatMap { u -> [Job] in
            guard let spec = u.resilience.healthCheck else { return [] }
            return u.targets.indices.map {
                Job(upstream: u.id, address: u.targetAddresses[$0], connect: u.addresses[$0], spec: spec, tls: u.tls, target: $0)
            }
        }
        state = NIOLoopBoundBox.makeEmptyBox(valueType: LoopState.self, eventLoop: eventLoop)
    }

    /// Schedules the probes (first ones at a random offset within each interval).
    public func start() {
        eventLoop.execute { [self] in
            guard state.value == nil else { return }
            let loopState = LoopState(jobs: jobs, eventLoop: eventLoop, health: health, clock: clock, onResult: onResult)
            state.value = loopState
            loopState.start()
        }
    }

    /// Cancels future probes and aborts running ones (their results are discarded).
    public func stop() -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            if state.value == nil { state.value = LoopState(jobs: [], eventLoop: eventLoop, health: health, clock: clock, onResult: nil) }
            state.value?.stop()
        }
    }

    struct Job: Sendable {
        var upstream: String
        var address: String
        var connect: UpstreamAddress
        var spec: HealthCheckSpec
        /// The upstream's TLS (nil: plain) and the target's index in it.
        var tls: UpstreamTLS?
        var target: Int
    }

    /// Loop-confined state: the repeating tasks and the channels of running probes.
    final class LoopState {
        let jobs: [Job]
        let eventLoop: any EventLoop
        let health: UpstreamHealth
        let clock: ServerClock
        let onResult: (@Sendable (String, String, Bool) -> Void)?
        var tasks: [RepeatedTask] = []
        var running: [Int: any Channel] = [:]
        var busy: Set<Int> = []
        var stopped = false

        init(jobs: [Job], eventLoop: any EventLoop, health: UpstreamHealth, clock: ServerClock, onResult: (@Sendable (String, String, Bool) -> Void)?) {
            self.onResult = onResult
            self.jobs = jobs
            self.eventLoop = eventLoop
            self.health = health
            self.clock = clock
        }

        func start() {
            guard !stopped, tasks.isEmpty else { return }
            var rng = SystemRandomNumberGenerator()
            for (i, job) in jobs.enumerated() {
                let interval = max(job.spec.interval, .milliseconds(1))
                let jitter = Duration.nanoseconds(Int64.random(in: 0..<max(1, interval.nanoseconds), using: &rng))
                let bound = NIOLoopBound(self, eventLoop: eventLoop)
                tasks.append(
                    eventLoop.scheduleRepeatedTask(initialDelay: jitter.timeAmount, delay: interval.timeAmount) { _ in
                        bound.value.probe(i)
                    })
            }
        }

        func stop() {
            stopped = true
            for t in tasks { t.cancel() }
            tasks = []
            for (_, channel) in running { channel.close(promise: nil) }
            running = [:]
        }

        func probe(_ i: Int) {
            guard !stopped, !busy.contains(i) else { return }
            busy.insert(i)
            let job = jobs[i]
            let attempt = ProbeAttempt()
            let bound = NIOLoopBound((self, attempt), eventLoop: eventLoop)
            let finish: (ProbeVerdict) -> Void = { verdict in
                let (state, attempt) = bound.value
                guard !attempt.done else { return }
                attempt.done = true
                attempt.timeout?.cancel()
                state.busy.remove(i)
                if let channel = state.running.removeValue(forKey: i) { channel.close(promise: nil) }
                guard !state.stopped else { return }
                let now = Duration.nanoseconds(Int64(clamping: state.clock.monotonicNanos()))
                state.health.probeResult(
                    upstream: job.upstream, target: job.address, success: verdict.isHealthy, reason: verdict.reason, now: now)
                state.onResult?(job.upstream, job.address, verdict.isHealthy)
            }
            let finishBound = NIOLoopBound(finish, eventLoop: eventLoop)
            let timeout = job.spec.timeout
            attempt.timeout = eventLoop.scheduleTask(in: timeout.timeAmount) {
                finishBound.value(.unhealthy("timed out after \(Self.describe(timeout))"))
            }
            let exchange: Exchange
            switch job.spec.kind {
            case .tcp:
                exchange = .none
            case .http(let path, let status, let host):
                guard let request = Self.request(path: path, host: host ?? job.address) else {
                    return finish(.unhealthy("path or host cannot be sent in a request head"))
                }
                exchange = .http(request: request, expected: status)
            case .grpc(let service, let authority):
                let scheme = job.tls == nil ? "http" : "https"
                guard let fields = GRPCHealthProbeHandler.requestFields(authority: authority ?? job.address, scheme: scheme) else {
                    return finish(.unhealthy("authority cannot be sent as :authority"))
                }
                exchange = .grpc(fields: fields, service: service)
            }
            var tlsHandler: NIOLoopBound<TLSClientHandler>?
            if let tls = job.tls {
                var alpn: [String]?
                if case .grpc = exchange { alpn = UpstreamTLS.probeALPN }
                do {
                    let handler = try TLSClientHandler(
                        context: tls.context, serverName: tls.serverNames[job.target], session: nil, alpn: alpn,
                        handshakeTimeout: timeout, upstream: job.upstream, metrics: nil)
                    handler.whenHandshakeCompletes { outcome in
                        if case .failure(let error) = outcome { finishBound.value(.unhealthy("TLS handshake failed: \(error.summary)")) }
                    }
                    tlsHandler = NIOLoopBound(handler, eventLoop: eventLoop)
                } catch {
                    return finish(.unhealthy("TLS: \(error.summary)"))
                }
            }
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(job.spec.timeout.timeAmount)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        // TLS first: the handlers behind it see the channel active once the
                        // handshake completed, and write their request then.
                        if let tlsHandler { try sync.addHandler(tlsHandler.value) }
                        switch exchange {
                        case .none:
                            break
                        case .http(let request, let expected):
                            try sync.addHandler(HTTPProbeHandler(request: request, expected: expected) { finishBound.value($0) })
                        case .grpc(let fields, let service):
                            try sync.addHandler(NIOHTTP2Handler(mode: .client, initialSettings: GRPCHealthProbeHandler.settings))
                            try sync.addHandler(GRPCHealthProbeHandler(fields: fields, service: service) { finishBound.value($0) })
                        }
                    }
                }
            let connected: EventLoopFuture<any Channel>
            switch job.connect {
            case .resolved(let address): connected = bootstrap.connect(to: address)
            case .name(let host, let port): connected = bootstrap.connect(host: host, port: port)
            }
            connected.whenComplete { result in
                let (state, attempt) = bound.value
                switch result {
                case .failure(let error):
                    finishBound.value(.unhealthy(Self.describe(connectError: error)))
                case .success(let channel):
                    if attempt.done || state.stopped {
                        channel.close(promise: nil)
                    } else if case .none = exchange, let tlsHandler {
                        // A tcp check of a TLS upstream: healthy once the handshake completed.
                        state.running[i] = channel
                        tlsHandler.value.whenHandshakeCompletes { outcome in
                            if case .success = outcome { finishBound.value(.healthy) }
                        }
                        channel.closeFuture.whenComplete { _ in finishBound.value(.unhealthy("connection closed before a verdict")) }
                    } else if case .none = exchange {
                        finishBound.value(.healthy)
                        channel.close(promise: nil)
                    } else {
                        state.running[i] = channel
                        channel.closeFuture.whenComplete { _ in finishBound.value(.unhealthy("connection closed before a verdict")) }
                    }
                }
            }
        }

        /// What a probe sends once connected.
        enum Exchange: Sendable {
            case none
            case http(request: [UInt8], expected: Int)
            case grpc(fields: [(String, String)], service: String)
        }

        /// `1.5s`, `200ms`: a duration as the reason of a timed-out probe shows it.
        static func describe(_ d: Duration) -> String {
            let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
            return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
        }

        /// A short reason for a failed connect (`connection refused`, `connect timeout`).
        static func describe(connectError error: any Error) -> String {
            if let e = error as? NIOConnectionError, let first = e.connectionErrors.first {
                return describe(connectError: first.error)
            }
            if let e = error as? IOError { return "connect failed: \(String(cString: strerror(e.errnoCode)).lowercased())" }
            if let e = error as? ChannelError, case .connectTimeout = e { return "connect timeout" }
            return "connect failed: \(GRPCHealthProbeHandler.clip(String(describing: error)))"
        }

        /// The probe request, or nil when the path or host could break the request line or head.
        static func request(path: String, host: String) -> [UInt8]? {
            func clean(_ s: String) -> Bool { !s.isEmpty && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F } }
            guard clean(path), path.hasPrefix("/"), clean(host) else { return nil }
            let text = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: sentinel-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            return Array(text.utf8)
        }
    }

    /// One probe's completion flag and timeout (loop-confined).
    final class ProbeAttempt {
        var done = false
        var timeout: Scheduled<Void>?
    }

    /// Sends the probe request and judges the response head.
    final class HTTPProbeHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let request: [UInt8]
        let expected: Int
        let done: (ProbeVerdict) -> Void
        var buffer = ByteBuffer()
        var parser = HTTP1ResponseHeadParser()
        var finished = false

        init(request: [UInt8], expected: Int, done: @escaping (ProbeVerdict) -> Void) {
            self.request = request
            self.expected = expected
            self.done = done
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: request)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !finished else { return }
            var bytes = unwrapInboundIn(data)
            buffer.writeBuffer(&bytes)
            while !finished, buffer.readableBytes > 0 {
                switch buffer.withUnsafeReadableBytes({ parser.parse($0, requestMethod: .get) }) {
                case .needMore:
                    return
                case .error:
                    complete(.unhealthy("invalid HTTP response head"))
                case .head(let head):
                    if head.isInterim {
                        buffer.moveReaderIndex(forwardBy: head.headLength)
                        buffer.discardReadBytes()
                        parser.reset()
                    } else {
                        complete(head.status == expected ? .healthy : .unhealthy("HTTP status \(head.status), expected \(expected)"))
                    }
                }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            complete(.unhealthy("connection error: \(GRPCHealthProbeHandler.clip(String(describing: error)))"))
        }

        private func complete(_ verdict: ProbeVerdict) {
            guard !finished else { return }
            finished = true
            done(verdict)
        }
    }
}

/// One probe's result: `unhealthy` carries a short reason for the transition log and the
/// `upstreams` builtin.
public enum ProbeVerdict: Sendable, Equatable {
    case healthy
    case unhealthy(String)

    public var isHealthy: Bool { self == .healthy }
    public var reason: String? {
        if case .unhealthy(let r) = self { return r }
        return nil
    }
}

@available(*, unavailable)
extension HealthChecker.LoopState: Sendable {}
