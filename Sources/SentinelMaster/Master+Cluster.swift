import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The master's side of the instance-wide view: worker metric reports, builtin answers that
/// cover every worker, and health verdicts relayed from the prober to every other worker.
///
/// Kept out of the lifecycle loop on purpose: these lines never reach `MasterState`.
extension Runner {
    /// How long a builtin `metrics`/`status` request waits for fresh reports from every worker.
    static let collectTimeout: Duration = .milliseconds(100)

    /// Every worker process the master knows, with its generation's state.
    func clusterWorkers() -> [ClusterView.WorkerInfo] {
        let now = self.now
        return state.generations.flatMap { g in
            g.workers.compactMap { w in
                w.pid.map {
                    ClusterView.WorkerInfo(
                        pid: $0, generation: g.id, slot: w.slot,
                        uptimeSeconds: Double((now - w.startedAt).components.seconds), state: g.state.rawValue)
                }
            }
        }
    }

    mutating func handleCluster(_ message: ClusterWorkerMessage, from pid: Int32) {
        let workers = clusterWorkers()
        if case .pull(let id, _) = message {
            let continuation = self.continuation
            Task {
                try? await Task.sleep(for: Self.collectTimeout)
                continuation.yield(.pullExpired(pid, id))
            }
        }
        sendCluster(cluster.received(message, from: pid, workers: { workers }))
    }

    mutating func clusterLinkClosed(_ pid: Int32) {
        let workers = clusterWorkers()
        sendCluster(cluster.closed(pid, workers: { workers }))
    }

    mutating func clusterPullExpired(_ requester: Int32, id: UInt64) {
        let workers = clusterWorkers()
        sendCluster(cluster.expired(requester: requester, id: id, workers: { workers }))
    }

    /// One send(2) per worker: an answer's lines arrive together.
    func sendCluster(_ sends: [ClusterView.Send]) {
        var batches: [Int32: String] = [:]
        var order: [Int32] = []
        for (pid, line) in sends {
            if batches[pid] == nil { order.append(pid) }
            batches[pid, default: ""] += line
        }
        for pid in order { links[pid]?.send(batches[pid]!) }
    }
}
