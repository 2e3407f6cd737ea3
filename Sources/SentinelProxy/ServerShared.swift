import NIOCore
import SentinelPolicy
import Synchronization

/// State shared by every connection of one `ProxyServer`: the current snapshot, metrics, clocks
/// and the open-connection registry.
///
/// It exists so a reload is a single swap of `snapshot` (§STYLE 2) and so shutdown can find and,
/// past its deadline, force-close every connection.
final class ServerShared: Sendable {
    let snapshotBox: Mutex<ServerSnapshot>
    /// Bumped on every snapshot swap, so connections re-read the snapshot only when it changed
    /// (one atomic load per request instead of a lock and a copy).
    let generation = Atomic<Int>(0)
    let metrics: MetricsRegistry
    let clock: ServerClock
    /// Process-wide upstream target health (the `upstreams` builtin reads it).
    let health: UpstreamHealth
    let startedMonotonicNanos: UInt64
    /// Instance-wide builtin answers when this process is one worker of several.
    let instanceView: (any InstanceView)?
    private struct Connections {
        var table: [ObjectIdentifier: any Channel] = [:]
        /// Set by `beginDrain`: refuse new connections, and fulfil `drained` when the table empties.
        var drained: EventLoopPromise<Void>?
        var draining = false
    }

    private let connections = Mutex(Connections())
    private let accessLog = Mutex<AccessLogFile?>(nil)

    /// The open access log, if the current snapshot has one.
    var accessLogFile: AccessLogFile? { accessLog.withLock { $0 } }

    /// Opens the snapshot's access log (keeping the open file when the path is unchanged).
    func openAccessLog(for snapshot: ServerSnapshot) throws(AccessLogError) {
        guard let settings = snapshot.accessLog else {
            accessLog.withLock { $0 = nil }
            return
        }
        if accessLog.withLock({ $0?.path == settings.path }) { return }
        let file = try AccessLogFile(path: settings.path)
        accessLog.withLock { $0 = file }
    }

    init(
        snapshot: ServerSnapshot, metrics: MetricsRegistry, clock: ServerClock, health: UpstreamHealth = UpstreamHealth(),
        instanceView: (any InstanceView)? = nil
    ) {
        self.health = health
        self.instanceView = instanceView
        snapshotBox = Mutex(snapshot)
        self.metrics = metrics
        self.clock = clock
        startedMonotonicNanos = clock.monotonicNanos()
    }

    var snapshot: ServerSnapshot { snapshotBox.withLock { $0 } }

    /// Makes `next` current for requests whose head arrives from now on.
    func swap(_ next: ServerSnapshot) {
        snapshotBox.withLock { $0 = next }
        generation.add(1, ordering: .releasing)
    }

    func uptimeSeconds() -> Double {
        Double(clock.monotonicNanos() &- startedMonotonicNanos) / 1e9
    }

    /// Registers a new connection unless the cap is reached; returns false when it must be refused.
    func admit(_ channel: any Channel, max: Int) -> Bool {
        let admitted = connections.withLock { c in
            guard !c.draining, c.table.count < max else { return false }
            c.table[ObjectIdentifier(channel)] = channel
            return true
        }
        if admitted {
            metrics.connectionOpened()
            channel.closeFuture.whenComplete { [self] _ in
                let drained = connections.withLock { c -> EventLoopPromise<Void>? in
                    c.table.removeValue(forKey: ObjectIdentifier(channel))
                    guard c.table.isEmpty, let promise = c.drained else { return nil }
                    c.drained = nil
                    return promise
                }
                metrics.connectionClosed()
                drained?.succeed()
            }
        } else {
            metrics.connectionRejected()
        }
        return admitted
    }

    /// Refuses new connections, asks every open one to quiesce (idle ones close now, busy ones after
    /// their response), and completes `promise` once none is left.
    func beginDrain(promise: EventLoopPromise<Void>) {
        let open = connections.withLock { c -> [any Channel] in
            c.draining = true
            if c.table.isEmpty { return [] }
            c.drained = promise
            return Array(c.table.values)
        }
        if open.isEmpty { promise.succeed() }
        for channel in open { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }

    func closeAllConnections() {
        let all = connections.withLock { Array($0.table.values) }
        for channel in all { channel.close(promise: nil) }
    }

    /// A fresh trace id for responses that have no request to take one from (timeouts, parse errors).
    func newTraceID() -> String {
        var rng = SystemRandomNumberGenerator()
        return TraceID.generate(format: snapshot.traceIDFormat, unixSeconds: clock.wallSeconds(), using: &rng)
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
