import Foundation
import KDL
import SentinelConfig
import SentinelMaster
import SentinelProxy
import SentinelRuntime
import Testing

/// Every setting the schema reads is either honoured or refused: for each leaf key the readers
/// ask for (recorded by `ConfigLoader.traceSchema`) in a set of baseline configurations, the
/// test writes non-default values and requires that the load is refused with `not supported
/// yet`, or that what the running system is built from changes (the data-plane snapshot, the
/// supervised agents). A key that is parsed and then reaches nothing fails here, with its path.
///
/// Keys consumed by the process roles themselves (threads, pid file, privilege drop, log level)
/// never reach a snapshot; they are listed in `processSettings` with the code that reads them.
@Suite struct SchemaReachTests {
    /// Keys read by `sentinel`/`sentinel-stack` processes rather than the data-plane snapshot,
    /// with their consumer. An entry that no longer names a key of the schema fails the test.
    static let processSettings: [String: String] = [
        "system > worker-threads": "event loops of sentinel (SingleProcess) and of each sentinel-stack worker (WorkerRole)",
        "system > worker-processes": "sentinel-stack worker count (Master+Generations)",
        "system > graceful-shutdown-timeout-secs": "drain deadline of sentinel and sentinel-stack",
        "system > pid-file": "SingleProcess writes and removes it",
        "system > working-directory": "SingleProcess chdir",
        "system > user": "sentinel-stack privilege drop (PrivilegeDrop)",
        "system > runtime-directory": "sentinel-stack control socket, pid file and sticky key (RuntimeDirectory)",
        "system > group": "sentinel-stack privilege drop (PrivilegeDrop)",
        "observability > logging > level": "StackLog and the process loggers",
        "observability > logging > timestamps": "StackLog",
    ]

    /// Keys that declare what the rest of the block already implies and are checked against it
    /// (a contradiction is an error); by themselves they change nothing.
    static let declarations: [String: String] = [
        "routes > route > service-type": "must agree with the route's contents (static-files, builtin-handler, api-schema, inference, else web)",
        "namespace > routes > route > service-type": "as routes > route > service-type",
        "namespace > service > routes > route > service-type": "as routes > route > service-type",
        "agents > agent > =type": "informational: what kind of agent it is (the original's too)",
        "namespace > exports > upstreams": "visibility: which unqualified references from other namespaces resolve (the validator checks them)",
        "namespace > exports > agents": "as namespace > exports > upstreams",
        "listeners > listener > tls > ocsp-stapling": "declares stapling, which every ocsp-file already turns on: #true without an ocsp-file is refused (no fetcher), #false with one is an error",
        "agents > agent > unix-socket": "where the agent listens: required, checked by sentinel validate, used by the agent protocol (agent filters are refused until it is built)",
        "namespace > agents > agent > unix-socket": "as agents > agent > unix-socket",
        "namespace > agents > agent > =type": "as agents > agent > =type",
    ]

    /// Blocks the coverage configuration leaves out because the gate (FeatureSupport) refuses
    /// them as a whole, so no key inside them can take effect unseen, or because they are read
    /// only to be refused with a pointed message. Most are pinned by the bundled examples'
    /// expected `not supported yet` lines (BundledConfigTests). An entry that no longer names a
    /// block of the schema fails `baselinesCoverTheSchema`.
    static let gatedBlocks: [String: String] = [
        "listeners > listener > tls > acme": "ACME certificates (acme block)",
        "listeners > listener > tls > sni > acme": "ACME certificates (acme block)",
        "upstreams > upstream > http-version": "http-version",
        "routes > route > api-schema": "api-schema",
        "routes > route > cache": "route cache",
        "routes > route > filters": "every filter is refused where it is defined",
        "exports > filters": "as routes > route > filters",
        "routes > route > inference": "inference",
        "routes > route > shadow": "shadow",
        "routes > route > static-files": "static-files",
        "routes > route > fallback > fallback-upstream > model-mapping": "fallback provider / model-mapping",
        "observability > logging > audit-log": "audit-log",
        "observability > logging > error-log": "error-log files",
        "observability > tracing": "tracing export",
        "namespace > limits": "namespace limits",
        "service > limits": "service limits",
        "agents > agent > circuit-breaker": "agent call settings",
        "agents > agent > config": "agent call settings",
        "agents > agent > events": "agent call settings",
        "agents > agent > request-body-mode": "agent call settings",
        "agents > agent > response-body-mode": "agent call settings",
        "agents > agent > protocol-version": "read only to warn that it is ignored (always v2)",
        "agents > agent > transport": "read only to refuse the documentation-only transport { } form",
    ]

    static var baselines: [(name: String, nodes: [KDLNode])] {
        var out: [(String, [KDLNode])] = []
        out.append(("coverage", try! KDLParser.parse(SchemaCoverage.text, file: "coverage.kdl").nodes))
        return out
    }

    @Test func baselinesAreValidAndGateClean() {
        for (name, nodes) in Self.baselines {
            let (result, _) = ConfigLoader.traceSchema(nodes: nodes, file: name)
            if case .failure(let e) = result { Issue.record("\(name) must load cleanly:\n\(e.rendered())") }
        }
    }

    /// Values that cannot load on their own, by design (another key must change with them).
    /// An entry whose value becomes testable fails the test, so the list cannot go stale.
    static let dependentValues: [String: String] = [
        "listeners > listener > protocol = \"https\"": "needs a tls block, refused as a whole (TLS listeners)",
        "namespace > service > listeners > listener > protocol = \"https\"": "as listeners > listener > protocol",
        "namespace > service > listeners > listener > protocol = \"h2\"": "as listeners > listener > protocol",
        "namespace > service > listeners > listener > protocol = \"h3\"": "as listeners > listener > protocol",
        "listeners > listener > protocol = \"http\"": "the only listener that writes protocol has a tls block, which http refuses",
        "listeners > listener > tls > client-auth = \"none\"": "with ca-file (which the other values need) it is an error: the CA would be unused",
        "listeners > listener > tls > sni > priority-hostnames": "the alternative to hostnames (both at once is an error)",
        "upstreams > upstream > load-balancing > fallback = \"sticky\"": "the fallback of sticky cannot be sticky",
        "namespace > upstreams > upstream > target > =address": "the other spelling of the target's value (both at once is an error)",
        "namespace > service > upstreams > upstream > target > =address": "as namespace > upstreams > upstream > target > =address",
        "agents > agent > unix-socket > =path": "the other spelling of the socket's value (both at once is an error)",
        "namespace > agents > agent > unix-socket > =path": "as agents > agent > unix-socket > =path",
        "filters > filter > =type": "another type would make the agent filter's own keys (agent) unknown; each type is covered by its own filter",
        "routes > route > filters": "the coverage configuration defines one filter; another id does not resolve",
    ]

    @Test func everyLeafIsHonouredOrRefused() throws {
        /// Per key pattern and value group (`key = "value"` for each meaning of a choice); absent
        /// while only mutations that do not load were seen.
        var conclusive: [String: SchemaProbe.Outcome] = [:]
        var invalid: [String: [String]] = [:]
        var checked: Set<String> = []
        for (name, nodes) in Self.baselines {
            let (result, trace) = ConfigLoader.traceSchema(nodes: nodes, file: name)
            guard case .success(let loaded) = result else { continue }
            let baseImage = Self.image(loaded.config)
            for leaf in SchemaProbe.leaves(trace, in: nodes) {
                let key = SchemaProbe.pattern(leaf.path) + (leaf.kind == .property ? " > =" : " > ") + leaf.names[0]
                if Self.processSettings[key] != nil || Self.declarations[key] != nil { continue }
                for group in SchemaProbe.candidates(leaf, in: nodes) {
                    let id = key + (group.label.hasPrefix("value ") ? " = " + group.label.dropFirst(6) : "")
                    if conclusive[id] != nil { continue }
                    checked.insert(key)
                    // Honoured if one value that loads takes effect (another may be absorbed by a
                    // second bound, e.g. max-connections above max-total-connections).
                    for value in group.values {
                        let mutated = SchemaProbe.set(leaf, to: value, in: nodes)
                        let (r, _) = ConfigLoader.traceSchema(nodes: mutated, file: name)
                        switch r {
                        case .success(let l):
                            conclusive[id] = Self.image(l.config) == baseImage ? .ignored(value) : .honoured
                        case .failure(let e):
                            if e.errors.allSatisfy({ $0.message.hasPrefix("not supported yet: ") }) {
                                conclusive[id] = .honoured
                            } else {
                                invalid[id, default: []].append("\(leaf.path) > \(leaf.names[0]) \(SchemaProbe.show(value)): \(e.errors[0].message)")
                            }
                        }
                        if case .honoured = conclusive[id] { break }
                    }
                }
            }
        }
        var failures: [String] = []
        for (id, outcome) in conclusive.sorted(by: { $0.key < $1.key }) {
            if case .ignored(let v) = outcome {
                failures.append("\(id) \(SchemaProbe.show(v)): accepted, and nothing the running system is built from changed")
            }
        }
        let untestable = invalid.keys.filter { conclusive[$0] == nil && Self.dependentValues[$0] == nil }.sorted()
        let stale = Self.dependentValues.keys.filter { conclusive[$0] != nil }.sorted()
        #expect(failures.isEmpty, "settings parsed but neither honoured nor refused:\n\(failures.joined(separator: "\n"))")
        #expect(untestable.isEmpty, "no probe value loads (extend SchemaProbe or SchemaCoverage, or list in dependentValues):\n\(untestable.map { "\($0), e.g. \(invalid[$0]!.first!)" }.joined(separator: "\n"))")
        #expect(stale.isEmpty, "dependentValues entries that now load (remove them): \(stale)")
        #expect(checked.count > 100, "only \(checked.count) keys probed")
    }

    /// Every block and value the schema registers somewhere is written by a baseline, so the
    /// probe above reaches its keys (a new section must be added to `SchemaCoverage`).
    @Test func baselinesCoverTheSchema() {
        // Sections inside namespaces and services are read by the same code as at the top level.
        func scopeFree(_ p: String) -> String {
            var p = SchemaProbe.pattern(p)
            for prefix in ["namespace > service > ", "namespace > "] where p.hasPrefix(prefix) { p.removeFirst(prefix.count) }
            return p
        }
        var blocks: Set<String> = []
        var typed: Set<String> = []
        var present: Set<String> = []
        for (name, nodes) in Self.baselines {
            let (_, trace) = ConfigLoader.traceSchema(nodes: nodes, file: name)
            for e in trace.entries {
                let key = scopeFree(e.path) + " > " + e.names[0]
                if e.present { present.insert(key) }
                if e.kind == .child { blocks.insert(key) } else { typed.insert(key) }
            }
        }
        let missing = blocks.subtracting(typed).subtracting(present).subtracting(Self.gatedBlocks.keys).sorted()
        #expect(missing.isEmpty, "written by no baseline:\n\(missing.joined(separator: "\n"))")
        let stale = Set(Self.gatedBlocks.keys).subtracting(blocks).sorted()
        #expect(stale.isEmpty, "gatedBlocks entries that are no blocks of the schema: \(stale)")
    }

    @Test func processSettingsNameSchemaKeys() {
        var keys: Set<String> = []
        for (name, nodes) in Self.baselines {
            let (_, trace) = ConfigLoader.traceSchema(nodes: nodes, file: name)
            for e in trace.entries { keys.insert(SchemaProbe.pattern(e.path) + (e.kind == .property ? " > =" : " > ") + e.names[0]) }
        }
        for k in Array(Self.processSettings.keys) + Array(Self.declarations.keys) {
            #expect(keys.contains(k), "\(k) is not a key of the schema")
        }
    }

    /// What the running system is built from: the data-plane snapshot (without the `config`
    /// builtin's display copy) and the agents sentinel-stack supervises, written out with
    /// dictionaries and sets in sorted order (their iteration order differs between equal values).
    static func image(_ config: SentinelConfiguration) -> String {
        var out = ""
        do {
            var snapshot = try SnapshotBuilder.build(
                config, instanceID: "probe", process: ProcessIdentity(stickyKey: [1, 2, 3], proxyID: "probe", zone: "probe-zone"))
            snapshot.configJSON = ""
            canonical(snapshot, into: &out)
        } catch {
            out += "build failed: \(error)"
        }
        canonical(AgentSpec.all(in: config, environment: ["PROBE": "1"]), into: &out)
        return out
    }

    static func canonical(_ value: Any, into out: inout String) {
        let m = Mirror(reflecting: value)
        if m.displayStyle == .dictionary || m.displayStyle == .set {
            let items = m.children.map { c -> String in
                var s = ""
                canonical(c.value, into: &s)
                return s
            }.sorted()
            out += "{" + items.joined(separator: ",") + "}"
        } else if value is OpaquePointer {
            // An OpenSSL object (SSL_CTX, X509…) of a TLS context: its address differs per build;
            // the settings it was made from are reflected beside it.
            out += "pointer"
        } else if m.children.isEmpty {
            out += String(reflecting: value)
        } else {
            out += "\(m.subjectType)("
            for c in m.children {
                out += (c.label ?? "") + ":"
                canonical(c.value, into: &out)
                out += ","
            }
            out += ")"
        }
    }
}
