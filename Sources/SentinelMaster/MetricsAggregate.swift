/// Prometheus text from several worker processes, merged into one exposition.
///
/// It exists so that a scrape covers the whole instance: each worker reports its registry as the
/// text it would serve (`MetricsRegistry.render`), and the master merges those texts by series.
/// Working on the exposition text keeps the master free of the data plane (it does not import
/// `SentinelProxy`) and makes every family a worker adds aggregated without changes here.
///
/// Merge rules, by the family's `# TYPE`: counters and histograms (buckets, `_sum`, `_count`)
/// are summed; gauges are summed too (requests in progress, open connections), except the
/// families in `maxGauges` (identity gauges, breaker state: the worst worker wins) and
/// `minGauges` (a target is healthy only if every worker says so; a certificate expires at the
/// soonest any worker serves it). The `process_*` families
/// describe one process each: the master labels every worker's with its slot (`relabelProcess`)
/// and, where two workers of one slot overlap during a reload, the one merged last (the newer
/// generation) wins; they never enter the retired counters.
public struct MetricsText: Sendable, Equatable {
    /// One family: its `# HELP` / `# TYPE` lines and its samples in first-seen order.
    public struct Family: Sendable, Equatable {
        public var name: String
        public var type: String
        public var header: [String]
        public var order: [String] = []
        public var values: [String: Double] = [:]
    }

    static let maxGauges: Set<String> = [
        "sentinel_up", "sentinel_build_info", "sentinel_circuit_breaker_state", "sentinel_upstream_tls_verify_disabled",
        // The workers share one table: each reports the same keys.
        "sentinel_rate_limit_keys",
    ]
    static let minGauges: Set<String> = [
        "sentinel_upstream_target_healthy", "sentinel_tls_certificate_expiry_seconds", "sentinel_rate_limit_redis_up",
    ]

    public private(set) var families: [Family] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Parses exposition text; lines it does not understand are skipped.
    public init(parsing text: some StringProtocol) {
        var current: Int?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("# ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count >= 3 else { continue }
                let name = String(parts[2])
                let fi = family(name)
                if parts[1] == "TYPE", parts.count == 4 { families[fi].type = String(parts[3]) }
                if !families[fi].header.contains(line) { families[fi].header.append(line) }
                current = fi
                continue
            }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let key = String(line[..<space])
            let fi = current.flatMap { Self.belongs(key, to: families[$0].name) ? $0 : nil } ?? family(Self.baseName(key))
            add(fi, key: key, value: value, rule: { $0 + $1 })
        }
    }

    /// The sample names of a family (`x`, `x_bucket`, `x_sum`, `x_count`).
    static func belongs(_ key: String, to family: String) -> Bool {
        let name = baseName(key)
        return name == family || name == family + "_bucket" || name == family + "_sum" || name == family + "_count"
    }

    static func baseName(_ key: String) -> String {
        String(key.prefix { $0 != "{" })
    }

    private mutating func family(_ name: String) -> Int {
        if let i = index[name] { return i }
        families.append(Family(name: name, type: "untyped", header: []))
        index[name] = families.count - 1
        return families.count - 1
    }

    private mutating func add(_ fi: Int, key: String, value: Double, rule: (Double, Double) -> Double) {
        if let old = families[fi].values[key] {
            families[fi].values[key] = rule(old, value)
        } else {
            families[fi].order.append(key)
            families[fi].values[key] = value
        }
    }

    /// Adds `other` into this one by the merge rules.
    public mutating func merge(_ other: MetricsText) {
        for f in other.families {
            let fi = family(f.name)
            if families[fi].header.isEmpty { families[fi].header = f.header }
            if families[fi].type == "untyped" { families[fi].type = f.type }
            let rule: (Double, Double) -> Double
            if Self.isProcessFamily(f.name) { rule = { $1 } }
            else if f.type == "gauge", Self.maxGauges.contains(f.name) { rule = { max($0, $1) } }
            else if f.type == "gauge", Self.minGauges.contains(f.name) { rule = { min($0, $1) } }
            else { rule = { $0 + $1 } }
            for key in f.order { add(fi, key: key, value: f.values[key] ?? 0, rule: rule) }
        }
    }

    /// Only the families whose values must survive the worker (counters and histograms): what an
    /// exited worker leaves in the retired accumulator. Gauges describe a live process and go.
    public var cumulative: MetricsText {
        var out = MetricsText()
        for f in families where (f.type == "counter" || f.type == "histogram") && !Self.isProcessFamily(f.name) {
            out.families.append(f)
            out.index[f.name] = out.families.count - 1
        }
        return out
    }

    static func isProcessFamily(_ name: String) -> Bool { name.hasPrefix("process_") }

    /// The same text with `labels` (`role="worker",slot="0"`) added to every sample of the
    /// `process_*` families, which each process reports about itself without labels.
    public func relabelProcess(_ labels: String) -> MetricsText {
        var out = self
        for fi in out.families.indices where Self.isProcessFamily(out.families[fi].name) {
            var order: [String] = []
            var values: [String: Double] = [:]
            for key in out.families[fi].order {
                let labelled: String
                if let open = key.firstIndex(of: "{") {
                    let inner = key[key.index(after: open)...].dropLast()
                    labelled = key[..<open] + "{" + labels + (inner.isEmpty ? "" : "," + inner) + "}"
                } else {
                    labelled = key + "{" + labels + "}"
                }
                if values[labelled] == nil { order.append(labelled) }
                values[labelled] = out.families[fi].values[key]
            }
            out.families[fi].order = order
            out.families[fi].values = values
        }
        return out
    }

    /// Drops the series of upstreams and targets no longer configured: a sample with an
    /// `upstream` label not in `upstreams`, or with `upstream` and `target` labels whose pair
    /// ("upstream\ttarget", raw values) is not in `targets`. Other series are kept.
    public mutating func retainUpstreams(_ upstreams: Set<String>, targets: Set<String>) {
        for fi in families.indices {
            var dropped = false
            for key in families[fi].order {
                guard let upstream = Self.label("upstream", in: key) else { continue }
                let keep: Bool
                if let target = Self.label("target", in: key) {
                    keep = targets.contains(upstream + "\t" + target)
                } else {
                    keep = upstreams.contains(upstream)
                }
                if !keep {
                    families[fi].values.removeValue(forKey: key)
                    dropped = true
                }
            }
            if dropped {
                let values = families[fi].values
                families[fi].order.removeAll { values[$0] == nil }
            }
        }
    }

    /// The unescaped value of label `name` in a sample key (`family{a="x",b="y"}`), if present.
    public static func label(_ name: String, in key: String) -> String? {
        guard let open = key.firstIndex(of: "{") else { return nil }
        var rest = key[key.index(after: open)...]
        while !rest.isEmpty {
            guard let eq = rest.firstIndex(of: "=") else { return nil }
            let labelName = rest[..<eq].trimmingPrefix(",")
            var i = rest.index(after: eq)
            guard i < rest.endIndex, rest[i] == "\"" else { return nil }
            i = rest.index(after: i)
            var value = ""
            while i < rest.endIndex, rest[i] != "\"" {
                if rest[i] == "\\", rest.index(after: i) < rest.endIndex {
                    i = rest.index(after: i)
                    value.append(rest[i] == "n" ? "\n" : rest[i])
                } else {
                    value.append(rest[i])
                }
                i = rest.index(after: i)
            }
            guard i < rest.endIndex else { return nil }
            if labelName == name { return value }
            rest = rest[rest.index(after: i)...]
        }
        return nil
    }

    /// The sum of every sample of one family (e.g. all `sentinel_requests_total` series).
    public func total(_ name: String) -> Double {
        guard let i = index[name] else { return 0 }
        return families[i].values.values.reduce(0, +)
    }

    /// Exposition text: families in first-seen order; within a family the series of the first
    /// report keep their order and later ones follow (histogram buckets stay in bound order).
    public func render() -> String {
        var out = ""
        for f in families {
            for h in f.header { out += h + "\n" }
            for key in f.order { out += key + " " + Self.number(f.values[key] ?? 0) + "\n" }
        }
        return out
    }

    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
