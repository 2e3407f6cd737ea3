import KDL

/// The top-level `waf { … }` block (an in-process WAF engine).
///
/// Sentinel, like the original, delivers WAF through agents; an engine `mode` other than `off`
/// is reported as not supported. The block is still parsed strictly so typos are caught.
public struct WafConfig: Sendable, Hashable {
    public enum Engine: Sendable, Hashable {
        case modsecurity
        case coraza
        case custom(String)
    }

    public enum Mode: String, Sendable, Hashable {
        case off
        /// Log matches, block nothing.
        case detection
        /// Block on matches (the default).
        case prevention
    }

    /// `exclusion { rule-ids …; scope … }`: rules switched off for a scope.
    public struct Exclusion: Sendable, Hashable {
        public enum Scope: Sendable, Hashable {
            case global
            case path(String)
            case host(String)
        }
        public var ruleIDs: [Int]
        public var scope: Scope = .global
    }

    /// `ruleset { … }`.
    public struct Ruleset: Sendable, Hashable {
        /// `crs-version`: OWASP Core Rule Set version.
        public var crsVersion = "3.3.4"
        /// `paranoia-level`: 1...4.
        public var paranoiaLevel = 1
        /// `anomaly-threshold`: inbound anomaly score that blocks.
        public var anomalyThreshold = 5
        /// `custom-rules-dir`: extra rule files.
        public var customRulesDir: String?
        public var exclusions: [Exclusion] = []
        public init() {}
    }

    /// `body-inspection { … }`.
    public struct BodyInspection: Sendable, Hashable {
        public var inspectRequestBody = true
        public var inspectResponseBody = false
        /// `max-inspection-bytes`: bytes of body inspected.
        public var maxInspectionBytes: Int64 = 1 << 20
        /// `content-types`: bodies of these types are inspected.
        public var contentTypes = ["application/x-www-form-urlencoded", "multipart/form-data", "application/json", "application/xml", "text/xml"]
        /// `decompress`: inflate compressed bodies before inspection.
        public var decompress = false
        /// `max-decompression-ratio`: zip-bomb guard.
        public var maxDecompressionRatio = 100.0
        public init() {}
    }

    public var engine: Engine = .coraza
    public var mode: Mode = .prevention
    /// `audit-log`: write WAF audit entries.
    public var auditLog = false
    public var ruleset = Ruleset()
    public var bodyInspection = BodyInspection()

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> WafConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = WafConfig()
        if let e = r.string("engine") {
            switch e.lowercased() {
            case "modsecurity", "modsec": c.engine = .modsecurity
            case "coraza": c.engine = .coraza
            default: c.engine = .custom(e)
            }
        }
        let modeValue = r.scalar(["mode"])
        if let modeValue {
            c.mode = ValueReader(sink: sink, path: r.path, key: "mode").choice(modeValue, options: [("off", .off), ("detection", .detection), ("prevention", .prevention)]) ?? c.mode
        }
        c.auditLog = r.bool("audit-log", default: c.auditLog)
        if let rs = r.single("ruleset") {
            var rr = NodeReader(rs, path: r.path.appending(rs), sink: sink)
            c.ruleset.crsVersion = rr.string("crs-version") ?? c.ruleset.crsVersion
            c.ruleset.paranoiaLevel = rr.int("paranoia-level", default: 1, range: 1...4)
            c.ruleset.anomalyThreshold = rr.int("anomaly-threshold", default: 5, range: 1...10_000)
            c.ruleset.customRulesDir = rr.string("custom-rules-dir")
            for ex in rr.all("exclusion") {
                var er = NodeReader(ex, path: rr.path.appending(ex), sink: sink)
                let ids = er.intList("rule-ids", range: 1...99_999_999) ?? []
                if ids.isEmpty, !er.has("rule-ids") {
                    sink.error(ex.location, er.path, "an exclusion needs \"rule-ids\"", hint: "rule-ids 942100 942110")
                }
                var exclusion = Exclusion(ruleIDs: ids)
                if let s = er.locatedString("scope") {
                    if s.value == "global" { exclusion.scope = .global } else if s.value.hasPrefix("path="), s.value.count > 5 {
                        exclusion.scope = .path(String(s.value.dropFirst(5)))
                    } else if s.value.hasPrefix("host="), s.value.count > 5 {
                        exclusion.scope = .host(String(s.value.dropFirst(5)))
                    } else {
                        sink.error(s.location, er.path, "unknown exclusion scope \"\(s.value)\"", hint: "one of: \"global\", \"path=/x\", \"host=h\"")
                    }
                }
                er.finish()
                if !ids.isEmpty { c.ruleset.exclusions.append(exclusion) }
            }
            rr.finish()
        }
        if let bi = r.single("body-inspection") {
            var br = NodeReader(bi, path: r.path.appending(bi), sink: sink)
            var b = BodyInspection()
            b.inspectRequestBody = br.bool("inspect-request-body", default: b.inspectRequestBody)
            b.inspectResponseBody = br.bool("inspect-response-body", default: b.inspectResponseBody)
            b.maxInspectionBytes = br.size("max-inspection-bytes", default: b.maxInspectionBytes, range: 1...Int64.max)!
            b.contentTypes = br.stringList("content-types") ?? b.contentTypes
            b.decompress = br.bool("decompress", default: b.decompress)
            b.maxDecompressionRatio = br.double("max-decompression-ratio", default: b.maxDecompressionRatio, range: 1...100_000)
            br.finish()
            c.bodyInspection = b
        }
        r.finish()
        if c.mode != .off {
            sink.notSupported("an in-process WAF engine (waf mode \"\(c.mode.rawValue)\")", modeValue?.location ?? node.location, r.path,
                              hint: "run a WAF agent (agents { agent \"waf\" type=\"waf\" … }) with an agent filter, or set mode \"off\"")
        }
        return c
    }
}
