import SentinelConfig

/// The master's instance-wide view of the data plane: the latest metrics report of every worker
/// process, the counters of workers that are gone, and the scrapes waiting for fresh reports.
///
/// Counters never go backwards across reloads and respawns: a worker's report stays in the
/// view until its control socket reaches EOF (so its final report, sent after draining, is
/// read first), and then its counters and histograms are folded into `retired`.
/// A value type with no I/O: `Runner` feeds it lines and performs the sends it returns.
public struct ClusterView: Sendable {
    /// Facts about one worker the lifecycle state knows (for the `status` answer).
    public struct WorkerInfo: Sendable {
        public var pid: Int32
        public var generation: Int
        public var slot: Int
        public var uptimeSeconds: Double
        public var state: String

        public init(pid: Int32, generation: Int, slot: Int, uptimeSeconds: Double, state: String) {
            self.pid = pid
            self.generation = generation
            self.slot = slot
            self.uptimeSeconds = uptimeSeconds
            self.state = state
        }
    }

    /// A builtin request waiting for reports.
    struct Pull: Sendable {
        var requester: Int32
        var id: UInt64
        var kind: String
        var waiting: Set<Int32>
    }

    public private(set) var reports: [Int32: MetricsText] = [:]
    /// The generation of each reporting worker: reports merge oldest generation first, so the
    /// newer worker of a slot wins the per-process families.
    private var reportGenerations: [Int32: Int] = [:]
    /// Families the master adds to every `metrics` answer (its own `process_*` and the reload
    /// gauges), read at answer time.
    public var masterMetrics: @Sendable () -> String = { "" }
    public private(set) var retired = MetricsText()
    private var pending: [Int32: [String]] = [:]
    private var pendingRows: [Int32: [UpstreamRow]] = [:]
    /// Each worker's upstream targets, from its latest report.
    public private(set) var rows: [Int32: [UpstreamRow]] = [:]
    private var pulls: [Pull] = []
    /// The latest health-check verdicts per target ("upstream\ttarget"), oldest first, replayed
    /// to a worker that starts later (a reload, a respawn) so it acts on the same health state.
    private var verdicts: [String: [Bool]] = [:]
    private var verdictOrder: [String] = []
    /// Verdicts kept per target: enough to reproduce any threshold up to this many.
    static let verdictHistory = 16
    static let maxTargets = 10_000
    /// Upper bound on the lines of one report (10,000 series per family, a few families).
    static let maxReportLines = 200_000

    public init() {}

    public typealias Send = (pid: Int32, line: String)

    /// One report line from `pid`. Returns the sends that follow (answers that were waiting for it).
    public mutating func received(_ message: ClusterWorkerMessage, from pid: Int32, workers: () -> [WorkerInfo]) -> [Send] {
        switch message {
        case .snapshotLine(let text):
            if pending[pid, default: []].count < Self.maxReportLines { pending[pid, default: []].append(text) }
            return []
        case .upstreamRow(let row):
            if pendingRows[pid, default: []].count < Self.maxReportLines { pendingRows[pid, default: []].append(row) }
            return []
        case .snapshotEnd:
            rows[pid] = pendingRows.removeValue(forKey: pid) ?? []
            pruneRetiredUpstreams()
            let lines = pending.removeValue(forKey: pid) ?? []
            let info = workers().first { $0.pid == pid }
            reportGenerations[pid] = info?.generation ?? 0
            reports[pid] = MetricsText(parsing: lines.joined(separator: "\n"))
                .relabelProcess("role=\"worker\",slot=\"\(info?.slot ?? -1)\"")
            var out: [Send] = []
            for i in pulls.indices { pulls[i].waiting.remove(pid) }
            while let i = pulls.firstIndex(where: { $0.waiting.isEmpty }) {
                out += answer(pulls.remove(at: i), workers: workers())
            }
            return out
        case .pull(let id, let kind):
            let live = Set(workers().map(\.pid))
            pulls.append(Pull(requester: pid, id: id, kind: kind, waiting: live))
            return live.sorted().map { ($0, ClusterMasterMessage.collect.line) }
        case .probe(let upstream, let target, let success):
            let key = upstream + "\t" + target
            if verdicts[key] != nil || verdicts.count < Self.maxTargets {
                if verdicts[key] == nil { verdictOrder.append(key) }
                verdicts[key, default: []].append(success)
                if verdicts[key]!.count > Self.verdictHistory { verdicts[key]!.removeFirst() }
            }
            let line = ClusterMasterMessage.probe(upstream: upstream, target: target, success: success).line
            return workers().map(\.pid).filter { $0 != pid }.map { ($0, line) }
        }
    }

    /// Forgets retired series of upstreams and targets that no reporting worker has any more (a
    /// reload removed them), so they are not exported forever. Runs when a report arrives, never
    /// with no rows at all: a lone worker that crashed is replaced before anything is pruned.
    private mutating func pruneRetiredUpstreams() {
        var upstreams = Set<String>()
        var targets = Set<String>()
        for list in rows.values {
            for row in list {
                upstreams.insert(row.upstream)
                targets.insert(row.upstream + "\t" + row.address)
            }
        }
        guard !upstreams.isEmpty else { return }
        retired.retainUpstreams(upstreams, targets: targets)
    }

    /// The verdicts a new worker has missed, in order, for every target probed so far.
    public func replay(to pid: Int32) -> [Send] {
        verdictOrder.flatMap { key -> [Send] in
            let parts = key.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return [] }
            return (verdicts[key] ?? []).map {
                (pid, ClusterMasterMessage.probe(upstream: String(parts[0]), target: String(parts[1]), success: $0).line)
            }
        }
    }

    /// The reports of `pid` are final (its control socket is closed): fold them into `retired`.
    public mutating func closed(_ pid: Int32, workers: () -> [WorkerInfo]) -> [Send] {
        pending.removeValue(forKey: pid)
        pendingRows.removeValue(forKey: pid)
        rows.removeValue(forKey: pid)
        reportGenerations.removeValue(forKey: pid)
        if let last = reports.removeValue(forKey: pid) { retired.merge(last.cumulative) }
        var out: [Send] = []
        for i in pulls.indices { pulls[i].waiting.remove(pid) }
        pulls.removeAll { $0.requester == pid }
        while let i = pulls.firstIndex(where: { $0.waiting.isEmpty }) {
            out += answer(pulls.remove(at: i), workers: workers())
        }
        return out
    }

    /// The collection deadline of pull `id` from `requester` passed: answer with what is known.
    public mutating func expired(requester: Int32, id: UInt64, workers: () -> [WorkerInfo]) -> [Send] {
        guard let i = pulls.firstIndex(where: { $0.requester == requester && $0.id == id }) else { return [] }
        return answer(pulls.remove(at: i), workers: workers())
    }

    /// Every live report merged with the retired counters.
    public var aggregate: MetricsText {
        var total = MetricsText()
        let order = reports.keys.sorted { (reportGenerations[$0] ?? 0, $0) < (reportGenerations[$1] ?? 0, $1) }
        for pid in order { total.merge(reports[pid]!) }
        total.merge(retired)
        return total
    }

    private func answer(_ pull: Pull, workers: [WorkerInfo]) -> [Send] {
        let body: [String]
        switch pull.kind {
        case "metrics":
            var total = aggregate
            total.merge(MetricsText(parsing: masterMetrics()))
            body = total.render().split(separator: "\n").map(String.init)
        case "status": body = [statusFragment(workers)]
        case "upstreams": body = UpstreamRow.merged(rows.keys.sorted().flatMap { rows[$0]! })
        default: body = []
        }
        // A line the worker's LineBuffer would refuse would end its control link: never sent.
        let limit = LineBuffer.maxLine - 64
        return body.filter { $0.utf8.count < limit }.map { (pull.requester, ClusterMasterMessage.answerLine(id: pull.id, $0).line) }
            + [(pull.requester, ClusterMasterMessage.answerEnd(id: pull.id).line)]
    }

    /// `"generation":g,"requests":n,"workers":[…]` for the builtin `status` answer (the worker adds
    /// its own fields around it). `requests` counts every worker since the master started.
    func statusFragment(_ workers: [WorkerInfo]) -> String {
        let live = workers.filter { $0.state == "live" }.map(\.generation).max()
        let list: [JSONValue] = workers.map { w in
            .object([
                ("pid", .number(String(w.pid))), ("generation", .number(String(w.generation))),
                ("slot", .number(String(w.slot))), ("state", .string(w.state)),
                ("uptime_secs", .number(String(Int(w.uptimeSeconds)))),
                ("requests", .number(MetricsText.number(reports[w.pid]?.total("sentinel_requests_total") ?? 0))),
            ])
        }
        var fields: [(String, JSONValue)] = [
            ("generation", live.map { .number(String($0)) } ?? .null),
            ("requests", .number(MetricsText.number(aggregate.total("sentinel_requests_total")))),
            ("worker_count", .number(String(workers.count))),
        ]
        // Many workers would make the line too long for the control protocol: then only the count.
        if list.count <= 24 { fields.append(("workers", .array(list))) }
        let object = JSONValue.object(fields).serialized()
        // The fragment goes inside the worker's object: drop the braces.
        return String(object.dropFirst().dropLast())
    }
}
