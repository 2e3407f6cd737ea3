public import KDL

/// What the readers of one load asked for, recorded only when a test asks
/// (`ConfigLoader.traceSchema`): every key read from a node present in the document, with its
/// type, default and allowed values.
///
/// It exists so a test can walk the schema mechanically (the readers' calls are the schema; see
/// `NodeReader`): for each leaf, write a non-default value and check that the setting either
/// reaches the running system or is refused by the feature gate. A key that is parsed and then
/// reaches nothing fails that test.
public final class SchemaTrace: @unchecked Sendable {
    public enum Kind: Sendable, Equatable {
        /// Registered through `single`/`all` without a typed read: a block, or a value the
        /// section reads itself (`target`, match conditions).
        case child
        case int(default: Int64?, range: ClosedRange<Int64>)
        case double(default: Double?, range: ClosedRange<Double>)
        case bool(default: Bool?)
        /// `values`: every accepted spelling; `groups[i]`: the index of the first spelling with
        /// the same meaning as `values[i]` (aliases share one); `defaultGroup`: the default's
        /// group, when there is a default and the values can be compared.
        case choice(values: [String], groups: [Int], defaultGroup: Int?)
        case size(default: Int64?, range: ClosedRange<Int64>)
        case duration(secondsUnit: Bool, default: Duration?, min: Duration)
        case string
        case address
        case stringList
        case intList(range: ClosedRange<Int64>)
        case property
    }

    public struct Entry: Sendable {
        /// The node whose child (or property) this is.
        public var node: KDLSourceLocation
        /// That node's path, ids included: `routes > route "api" > policies`.
        public var path: String
        /// The first (canonical) name; aliases follow.
        public var names: [String]
        public var kind: Kind
        /// Whether the document wrote it.
        public var present: Bool
    }

    public private(set) var entries: [Entry] = []

    init() {}

    func record(_ node: KDLNode, _ path: ConfigPath, _ names: [String], _ kind: Kind) {
        let present = node.children.contains { names.contains($0.name) } || (kind == .property && node.properties.contains { names.contains($0.name) })
        entries.append(Entry(node: node.location, path: path.description, names: names, kind: kind, present: present))
    }
}

extension NodeReader {
    func trace(_ names: [String], _ kind: SchemaTrace.Kind) {
        sink.schema?.record(node, path, names, kind)
    }

    static func choiceKind<T: Equatable>(_ options: [(String, T)], default value: T?) -> SchemaTrace.Kind {
        let groups = options.map { o in options.firstIndex { $0.1 == o.1 }! }
        let d = value.flatMap { v in options.firstIndex { $0.1 == v } }
        return .choice(values: options.map(\.0), groups: groups, defaultGroup: d)
    }

    static func choiceKind<T>(_ options: [(String, T)]) -> SchemaTrace.Kind {
        .choice(values: options.map(\.0), groups: Array(options.indices), defaultGroup: nil)
    }
}

extension ConfigLoader {
    /// Loads `nodes` as one configuration and returns the result with the trace of every key
    /// the readers asked for. For tests; an ordinary load records nothing.
    public static func traceSchema(nodes: [KDLNode], file: String, host: ConfigHost = .proxy) -> (Result<Loaded, ConfigError>, SchemaTrace) {
        let sink = DiagnosticSink()
        sink.mainFile = file
        let trace = SchemaTrace()
        sink.schema = trace
        return (finish(nodes: nodes, files: [file], sink: sink, host: host), trace)
    }
}
