/// The control-socketpair lines that make many workers look like one instance: metric reports,
/// instance-wide answers for the builtin `metrics` and `status` routes, and health-check verdicts.
///
/// They are kept apart from `WorkerMessage` / `MasterMessage` (the lifecycle protocol that
/// `MasterState` interprets) because the state machine never needs them: the master routes them
/// to `ClusterView` before the lifecycle sees anything. Every message is one line under
/// `LineBuffer.maxLine`; a metrics report is one `SNAP` line per exposition line, then `SNAP-END`.
public enum ClusterWorkerMessage: Sendable, Equatable {
    /// One line of the worker's current exposition text.
    case snapshotLine(String)
    /// One upstream target as this worker sees it (part of a report, before `snapshotEnd`).
    case upstreamRow(UpstreamRow)
    /// The report is complete: it replaces the worker's previous one.
    case snapshotEnd
    /// A builtin route asks for the instance-wide answer; `kind` is `metrics` or `status`.
    case pull(id: UInt64, kind: String)
    /// The designated prober's verdict for one target, to apply in every other worker.
    case probe(upstream: String, target: String, success: Bool)

    public var line: String {
        switch self {
        case .snapshotLine(let text): return "SNAP \(text.filter { $0 != "\n" })\n"
        case .upstreamRow(let row): return "UPS \(row.fields.joined(separator: "\t"))\n"
        case .snapshotEnd: return "SNAP-END\n"
        case .pull(let id, let kind): return "PULL \(id) \(kind)\n"
        case .probe(let u, let t, let ok): return "PROBE \(ok ? "ok" : "fail") \(u)\t\(t)\n"
        }
    }

    public init?(line: Substring) {
        if line.hasPrefix("SNAP ") { self = .snapshotLine(String(line.dropFirst(5))) }
        else if line == "SNAP-END" { self = .snapshotEnd }
        else if line.hasPrefix("UPS "), let row = UpstreamRow(fields: line.dropFirst(4).split(separator: "\t", omittingEmptySubsequences: false)) {
            self = .upstreamRow(row)
        }
        else if line.hasPrefix("PULL ") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let id = UInt64(parts[1]) else { return nil }
            self = .pull(id: id, kind: String(parts[2]))
        } else if let probe = ProbeVerdict(line: line) {
            self = .probe(upstream: probe.upstream, target: probe.target, success: probe.success)
        } else { return nil }
    }
}

/// Master → worker cluster lines.
public enum ClusterMasterMessage: Sendable, Equatable {
    /// Report your metrics now (a scrape is waiting for them).
    case collect
    /// One line of the answer to pull `id`.
    case answerLine(id: UInt64, String)
    /// The answer to pull `id` is complete.
    case answerEnd(id: UInt64)
    /// Apply another worker's health-check verdict.
    case probe(upstream: String, target: String, success: Bool)

    public var line: String {
        switch self {
        case .collect: return "COLLECT\n"
        case .answerLine(let id, let text): return "AGG \(id) \(text.filter { $0 != "\n" })\n"
        case .answerEnd(let id): return "AGG-END \(id)\n"
        case .probe(let u, let t, let ok): return ClusterWorkerMessage.probe(upstream: u, target: t, success: ok).line
        }
    }

    public init?(line: Substring) {
        if line == "COLLECT" { self = .collect }
        else if line.hasPrefix("AGG ") {
            let rest = line.dropFirst(4)
            let id = rest.prefix { $0 != " " }
            guard let n = UInt64(id) else { return nil }
            self = .answerLine(id: n, String(rest.dropFirst(id.count + 1)))
        } else if line.hasPrefix("AGG-END ") {
            guard let n = UInt64(line.dropFirst(8)) else { return nil }
            self = .answerEnd(id: n)
        } else if let probe = ProbeVerdict(line: line) {
            self = .probe(upstream: probe.upstream, target: probe.target, success: probe.success)
        } else { return nil }
    }
}

/// `PROBE ok|fail <upstream>\t<target>` (a tab: neither an upstream id nor an address has one).
struct ProbeVerdict {
    var upstream: String
    var target: String
    var success: Bool

    init?(line: Substring) {
        guard line.hasPrefix("PROBE ") else { return nil }
        let rest = line.dropFirst(6)
        guard let space = rest.firstIndex(of: " "), let tab = rest.firstIndex(of: "\t") else { return nil }
        let verdict = rest[..<space]
        guard verdict == "ok" || verdict == "fail", space < tab else { return nil }
        success = verdict == "ok"
        upstream = String(rest[rest.index(after: space)..<tab])
        target = String(rest[rest.index(after: tab)...])
    }
}

/// One upstream target in a worker's report: what the builtin `upstreams` route shows for it.
public struct UpstreamRow: Sendable, Equatable {
    public var upstream: String
    public var address: String
    public var weight: Int
    /// `unknown`, `healthy` or `unhealthy` (active checks).
    public var health: String
    /// `closed`, `open` or `half_open`.
    public var breaker: String
    public var ejected: Bool
    public var inFlight: Int?

    public init(upstream: String, address: String, weight: Int, health: String, breaker: String, ejected: Bool, inFlight: Int?) {
        self.upstream = upstream
        self.address = address
        self.weight = weight
        self.health = health
        self.breaker = breaker
        self.ejected = ejected
        self.inFlight = inFlight
    }

    var fields: [String] {
        [upstream, address, String(weight), health, breaker, ejected ? "1" : "0", inFlight.map(String.init) ?? "-"].map { $0.filter { $0 != "\t" && $0 != "\n" } }
    }

    init?(fields f: [Substring]) {
        guard f.count == 7, let weight = Int(f[2]) else { return nil }
        self.init(
            upstream: String(f[0]), address: String(f[1]), weight: weight, health: String(f[3]), breaker: String(f[4]),
            ejected: f[5] == "1", inFlight: Int(f[6]))
    }
}
