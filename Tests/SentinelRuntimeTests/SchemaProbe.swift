import KDL
import SentinelConfig

/// Mutations for `SchemaReachTests`: which values to try for a leaf, and how to write one into
/// a document.
enum SchemaProbe {
    enum Outcome {
        case honoured
        case ignored(KDLValue)
    }

    /// Values to try for one meaning of a setting; the first that loads decides.
    struct Group {
        var label: String
        var values: [KDLValue]
    }

    /// The leaves of a trace, one per node and key: typed reads and properties, and values a
    /// section reads itself (a child registered without a typed read, written in the baseline
    /// with arguments and no block: `path "/x"`, `command "…"`); those are probed as `.untyped`.
    static func leaves(_ trace: SchemaTrace, in nodes: [KDLNode]) -> [SchemaTrace.Entry] {
        var typed: Set<String> = []
        for e in trace.entries where e.kind != .child { typed.insert("\(e.node) \(e.names[0])") }
        var out: [SchemaTrace.Entry] = []
        var seen: Set<String> = []
        for e in trace.entries {
            let id = "\(e.node) \(e.names[0])"
            if e.kind == .child {
                guard !typed.contains(id), e.present, let node = find(e.node, in: nodes),
                      let child = node.children.first(where: { e.names.contains($0.name) }),
                      !child.arguments.isEmpty, child.children.isEmpty else { continue }
            }
            if seen.insert(id).inserted { out.append(e) }
        }
        return out
    }

    /// `routes > route "api" > policies` → `routes > route > policies`.
    static func pattern(_ path: String) -> String {
        path.components(separatedBy: " > ").map { part in
            part.range(of: " \"").map { String(part[..<$0.lowerBound]) } ?? part
        }.joined(separator: " > ")
    }

    static let at = KDLSourceLocation(file: "probe", line: 0, column: 0)
    static func int(_ n: Int64) -> KDLValue { KDLValue(.number(KDLNumber(kind: .integer, canonical: String(n))), location: at) }
    static func double(_ d: Double) -> KDLValue { KDLValue(.number(KDLNumber(kind: .decimal, canonical: String(d))), location: at) }
    static func string(_ s: String) -> KDLValue { KDLValue(.string(s), location: at) }
    static func bool(_ b: Bool) -> KDLValue { KDLValue(.bool(b), location: at) }

    static func show(_ v: KDLValue) -> String {
        switch v.kind {
        case .string(let s): return "\"\(s)\""
        case .number(let n): return n.canonical
        case .bool(let b): return b ? "#true" : "#false"
        case .null: return "#null"
        }
    }

    /// The value the baseline wrote for this leaf, if it wrote one.
    static func written(_ e: SchemaTrace.Entry, in nodes: [KDLNode]) -> KDLValue? {
        guard let node = find(e.node, in: nodes) else { return nil }
        if e.kind == .property { return node.properties.first { e.names.contains($0.name) }?.value }
        return node.children.first { e.names.contains($0.name) }?.arguments.first
    }

    /// The ids the document defines (`route "x"`, `upstream "y"`, …).
    static func ids(in nodes: [KDLNode]) -> [String] {
        let kinds: Set<String> = ["route", "upstream", "listener", "namespace", "agent", "filter", "service"]
        var out: [String] = []
        for n in nodes {
            if kinds.contains(n.name), let id = n.arguments.first?.stringValue, !out.contains(id) { out.append(id) }
            for id in ids(in: n.children) where !out.contains(id) { out.append(id) }
        }
        return out
    }

    static func find(_ location: KDLSourceLocation, in nodes: [KDLNode]) -> KDLNode? {
        for n in nodes {
            if n.location == location { return n }
            if let hit = find(location, in: n.children) { return hit }
        }
        return nil
    }

    static func candidates(_ e: SchemaTrace.Entry, in nodes: [KDLNode]) -> [Group] {
        let current = written(e, in: nodes)
        func ints(_ ref: Int64?, _ range: ClosedRange<Int64>, extra: [Int64]) -> [KDLValue] {
            var list: [Int64] = []
            if let r = ref {
                list = [r &+ 1, r &- 1, r.multipliedReportingOverflow(by: 2).overflow ? r : r * 2, r / 2]
            }
            list += extra + [range.lowerBound, range.upperBound]
            var seen: Set<Int64> = []
            return list.filter { range.contains($0) && $0 != ref && seen.insert($0).inserted }.map(int)
        }
        switch e.kind {
        case .child, .property:
            // Untyped: another value of the type written, or a few plausible ones.
            if let n = current?.numberValue?.int64Value {
                return [Group(label: "another value", values: ints(n, 0...Int64(Int32.max), extra: [1, 2, 10]))]
            }
            if let s = current?.stringValue {
                // References need another id that exists: every id the baseline defines is a candidate.
                let variants = [s + "x", s + "/x", String(s.dropLast()), "probe", "/probe", "X-Probe", "10.1.0.0/16", "127.0.0.1:19998", "random"]
                    + ids(in: nodes)
                return [Group(label: "another value", values: variants.filter { $0 != s && !$0.isEmpty }.map(string))]
            }
            if let b = current?.boolValue { return [Group(label: "the other boolean", values: [bool(!b)])] }
            return [Group(label: "any value", values: [int(2), int(1), string("probe"), string("/probe"), bool(true)])]
        case .int(let d, let range):
            let ref = current?.numberValue?.int64Value ?? d
            return [Group(label: "another value", values: ints(ref, range, extra: [1, 2, 10, 100]))]
        case .size(let d, let range):
            let ref = current?.numberValue?.int64Value ?? current?.stringValue.flatMap(parseSize) ?? d
            return [Group(label: "another size", values: ints(ref, range, extra: [1024, 1 << 20]))]
        case .double(let d, let range):
            let ref = current?.numberValue?.doubleValue ?? d
            var list: [Double] = ref.map { [$0 * 2, $0 / 2, $0 + 0.5, $0 - 0.5] } ?? []
            list += [0.5, 1, 2, range.lowerBound, range.upperBound]
            return [Group(label: "another number", values: list.filter { range.contains($0) && $0 != ref }.map(double))]
        case .bool(let d):
            if let ref = current?.boolValue ?? d { return [Group(label: "the other boolean", values: [bool(!ref)])] }
            return [Group(label: "either boolean", values: [bool(true), bool(false)])]
        case .choice(let values, let groups, let defaultGroup):
            let ref = current?.stringValue.flatMap { s in values.firstIndex(of: s).map { groups[$0] } } ?? defaultGroup
            let reps = Array(Set(groups)).sorted().filter { $0 != ref }
            return reps.map { Group(label: "value \"\(values[$0])\"", values: [string(values[$0])]) }
        case .duration(let seconds, let d, let min):
            let ms: Int64? = current.flatMap { v in
                if let n = v.numberValue?.int64Value { return seconds ? n * 1000 : n }
                return v.stringValue.flatMap(parseDuration)
            } ?? d.map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 }
            let minMs = min.components.seconds * 1000 + min.components.attoseconds / 1_000_000_000_000_000
            var list: [Int64] = ms.map { [$0 + 1000, $0 * 2, $0 / 2, $0 + 1] } ?? []
            list += [5000, 1000, 30_000]
            return [Group(label: "another duration", values: list.filter { $0 >= minMs && $0 != ms }.map { string("\($0)ms") })]
        case .string:
            var list: [String] = []
            if let s = current?.stringValue { list = [s + "x", s + "/x", s.isEmpty ? "x" : String(s.dropLast())] }
            list += ["/probe", "probe", "X-Probe", "probe.example.com", "/tmp/probe"]
            return [Group(label: "another string", values: list.map(string))]
        case .address:
            return [Group(label: "another address", values: ["127.0.0.1:19999", "127.0.0.1:1", "[::1]:19999"].map(string))]
        case .stringList:
            return [Group(label: "one more value", values: ["/probe", "probe", "X-Probe", "PUT", "probe.example.com", "10.0.0.0/8"].map(string))]
        case .intList(let range):
            // A value the baseline's list does not hold yet (appending a duplicate changes nothing).
            let node = find(e.node, in: nodes)
            let written = Set(node?.children.filter { e.names.contains($0.name) }.flatMap(\.arguments).compactMap { $0.numberValue?.int64Value } ?? [])
            let fresh = ints(nil, range, extra: [429, 500, 504, 503, 1, 2]).filter { !written.contains($0.numberValue!.int64Value!) }
            return [Group(label: "one more value", values: fresh)]
        }
    }

    /// `nodes` with the leaf set to `value` (a list gets the value appended).
    static func set(_ e: SchemaTrace.Entry, to value: KDLValue, in nodes: [KDLNode]) -> [KDLNode] {
        nodes.map { n in
            var n = n
            if n.location == e.node, e.kind == .property {
                n.properties.removeAll { e.names.contains($0.name) }
                n.properties.append(KDLProperty(name: e.names[0], value: value, location: n.location))
            } else if n.location == e.node {
                if let i = n.children.firstIndex(where: { e.names.contains($0.name) }) {
                    switch e.kind {
                    case .stringList, .intList: n.children[i].arguments.append(value)
                    default: n.children[i].arguments = [value]
                    }
                } else {
                    n.children.append(KDLNode(name: e.names[0], arguments: [value], location: n.location))
                }
            } else {
                n.children = set(e, to: value, in: n.children)
            }
            return n
        }
    }

    static func parseSize(_ s: String) -> Int64? {
        let units: [(String, Int64)] = [("kib", 1 << 10), ("kb", 1 << 10), ("k", 1 << 10), ("mib", 1 << 20), ("mb", 1 << 20), ("m", 1 << 20),
                                        ("gib", 1 << 30), ("gb", 1 << 30), ("g", 1 << 30), ("b", 1)]
        let t = s.lowercased()
        for (u, m) in units where t.hasSuffix(u) { return Int64(t.dropLast(u.count)).map { $0 * m } }
        return Int64(t)
    }

    static func parseDuration(_ s: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (u, m) in units where s.hasSuffix(u) { if let n = Int64(s.dropLast(u.count)) { return n * m } }
        return nil
    }
}
