import Dispatch
import SentinelMaster
import SentinelObservability
import SentinelProxy
import Synchronization

/// A worker's part of the instance-wide view: it reports its metrics to the master (every
/// `pushInterval` when they changed, at once on COLLECT, and a final time after draining), asks
/// the master for the instance-wide `metrics`/`status` answers, and relays health-check verdicts.
///
/// Every write to the control socket goes through `send`, one lock, so lines from the push timer,
/// a builtin request and the lifecycle never interleave.
final class WorkerCluster: InstanceView, Sendable {
    /// How often changed metrics are pushed (bounds what a crash loses; scrapes collect afresh).
    static let pushInterval: DispatchTimeInterval = .milliseconds(250)
    /// How long a builtin request waits for the master before answering with this worker alone.
    static let pullTimeout: DispatchTimeInterval = .seconds(1)

    private struct Pending {
        var lines: [String] = []
        var completion: @Sendable (String?) -> Void
    }

    private struct State {
        var link: ControlLink?
        var nextID: UInt64 = 1
        var pulls: [UInt64: Pending] = [:]
        var lastReport = ""
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "sentinel.worker.cluster")
    /// Created in `attach`: a DispatchSource released before it was ever resumed traps
    /// (SIGILL), which is what a worker that failed to start used to die of.
    private let timer = Mutex<TimerBox?>(nil)
    private let metrics: MetricsRegistry
    private let version: String
    private let health = Mutex<ProxyServer?>(nil)

    init(metrics: MetricsRegistry, version: String) {
        self.metrics = metrics
        self.version = version
    }

    /// Connects the control link (created after this object, since its handler calls `received`)
    /// and the server whose `UpstreamHealth` applies relayed verdicts; starts the push timer.
    func attach(link: ControlLink, server: ProxyServer) {
        state.withLock { $0.link = link }
        health.withLock { $0 = server }
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + Self.pushInterval, repeating: Self.pushInterval)
        let handler: @Sendable () -> Void = { [weak self] in self?.report(onlyIfChanged: true) }
        source.setEventHandler(handler: handler)
        source.resume()
        timer.withLock { $0 = TimerBox(source: source) }
    }

    /// Writes `line` (one or more complete lines) to the master.
    func send(_ line: String) {
        state.withLock { _ = $0.link?.send(line) }
    }

    /// Sends the current exposition text as SNAP lines, the upstream targets as UPS lines, then
    /// SNAP-END, in one write. The `process_*` families go only into reports the master asked
    /// for (a scrape): they change all the time and would defeat `onlyIfChanged`.
    func report(onlyIfChanged: Bool = false) {
        var text = metrics.render(version: version)
        if let server = health.withLock({ $0 }) {
            for u in server.health.snapshot(now: server.now) {
                for t in u.targets {
                    let row = UpstreamRow(
                        upstream: u.id, address: t.address, weight: t.weight, health: t.health.rawValue,
                        breaker: t.breaker.rawValue, ejected: t.ejected, inFlight: t.inFlight)
                    text += ClusterWorkerMessage.upstreamRow(row).line
                }
            }
        }
        state.withLock { s in
            if onlyIfChanged, text == s.lastReport { return }
            s.lastReport = text
            var out = ""
            for line in text.split(separator: "\n") where line.utf8.count < LineBuffer.maxLine - 16 {
                out += line.hasPrefix("UPS ") ? line + "\n" : ClusterWorkerMessage.snapshotLine(String(line)).line
            }
            if !onlyIfChanged, let process = ProcessMetrics.current() {
                for line in process.render().split(separator: "\n") { out += ClusterWorkerMessage.snapshotLine(String(line)).line }
            }
            out += ClusterWorkerMessage.snapshotEnd.line
            _ = s.link?.send(out)
        }
    }

    /// Stops the push timer (the final report follows the drain).
    func stop() {
        timer.withLock { $0?.source.cancel() }
    }

    /// A cluster line from the master (on the link's queue).
    func received(_ message: ClusterMasterMessage) {
        switch message {
        case .collect:
            report()
        case .answerLine(let id, let text):
            state.withLock { $0.pulls[id]?.lines.append(text) }
        case .answerEnd(let id):
            guard let done = state.withLock({ $0.pulls.removeValue(forKey: id) }) else { return }
            done.completion(done.lines.joined(separator: "\n") + (done.lines.isEmpty ? "" : "\n"))
        case .probe(let upstream, let target, let success):
            guard let server = health.withLock({ $0 }) else { return }
            // The prober logged the transition; this worker applies it silently.
            server.health.probeResult(upstream: upstream, target: target, success: success, relayed: true, now: server.now)
        }
    }

    /// InstanceView: asks the master; nil after `pullTimeout` or without a link.
    func fetch(_ kind: BuiltinKind, completion: @escaping @Sendable (String?) -> Void) {
        let name = kind.rawValue
        let id: UInt64? = state.withLock { s in
            guard let link = s.link else { return nil }
            let id = s.nextID
            s.nextID += 1
            s.pulls[id] = Pending(completion: completion)
            guard link.send(ClusterWorkerMessage.pull(id: id, kind: name).line) else {
                s.pulls[id] = nil
                return nil
            }
            return id
        }
        guard let id else { return completion(nil) }
        queue.asyncAfter(deadline: .now() + Self.pullTimeout) { [weak self] in
            guard let expired = self?.state.withLock({ $0.pulls.removeValue(forKey: id) }) else { return }
            expired.completion(nil)
        }
    }
}

/// The push timer. `@unchecked`: a DispatchSource is thread-safe (Dispatch documents it); Swift lacks the annotation.
private struct TimerBox: @unchecked Sendable {
    let source: any DispatchSourceTimer
}
