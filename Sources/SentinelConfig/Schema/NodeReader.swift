import KDL

/// Reads one KDL node against the schema that the calling code describes, and afterwards reports
/// everything the schema did not ask for.
///
/// The schema is the sequence of calls: each `int("timeout-ms", …)` both reads the child and
/// registers `timeout-ms` as a known name. `finish()` then turns every child, property or
/// argument nobody asked for into an error with a "did you mean" hint. This is what makes an
/// unknown key an error instead of a silently ignored typo, without a second, drifting list of
/// valid names.
struct NodeReader {
    let node: KDLNode
    let path: ConfigPath
    let sink: DiagnosticSink
    /// A word for the children in messages: "key", "condition", "filter type"...
    var childNoun = "setting"

    private var knownChildren: [String] = []
    private var knownProperties: [String] = []
    private var claimedChildren: Set<Int> = []
    private var claimedProperties: Set<String> = []
    private var consumedArguments = 0
    private var argumentsHandled = false
    private var finished = false

    init(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) {
        self.node = node
        self.path = path
        self.sink = sink
    }

    var location: KDLSourceLocation { node.location }

    // MARK: - Children

    /// The child nodes named `names[0]` (or an alias), each of which may appear once.
    /// A second occurrence is an error: the original silently kept the first one.
    mutating func single(_ names: String...) -> KDLNode? {
        single(names)
    }

    mutating func single(_ names: [String]) -> KDLNode? {
        let found = all(names)
        if found.count > 1 {
            for extra in found.dropFirst() {
                sink.error(
                    extra.location, path, "\"\(extra.name)\" is given more than once",
                    hint: "keep one \"\(names[0])\" (the first is at line \(found[0].location.line))")
            }
        }
        return found.first
    }

    /// Every child named `names[0]` or one of its aliases, in source order.
    mutating func all(_ names: String...) -> [KDLNode] {
        all(names)
    }

    mutating func all(_ names: [String]) -> [KDLNode] {
        knownChildren.append(contentsOf: names)
        trace(names, .child)
        var result: [KDLNode] = []
        for (index, child) in node.children.enumerated() where names.contains(child.name) {
            claimedChildren.insert(index)
            result.append(child)
        }
        return result
    }

    /// Claims every remaining child: for blocks whose children are free-form names
    /// (`set { X-Header "v" }`, `env { KEY "v" }`).
    mutating func remainingChildren() -> [KDLNode] {
        var result: [KDLNode] = []
        for (index, child) in node.children.enumerated() where !claimedChildren.contains(index) {
            claimedChildren.insert(index)
            result.append(child)
        }
        return result
    }

    /// Registers names that are handled elsewhere (so "did you mean" can suggest them).
    mutating func know(_ names: String...) {
        knownChildren.append(contentsOf: names)
    }

    // MARK: - Scalar children (`key value`)

    /// The single value of a `key value` child. Reports wrong arity, properties and blocks.
    mutating func scalar(_ names: [String]) -> KDLValue? {
        guard let child = single(names) else { return nil }
        return Self.scalarValue(of: child, path: path, sink: sink)
    }

    static func scalarValue(of child: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> KDLValue? {
        let childPath = path.appending(child)
        if !child.children.isEmpty {
            sink.error(child.children[0].location, childPath, "\"\(child.name)\" takes a single value, not a block",
                       hint: StaleKeys.hint(parent: path, key: child.name, block: true))
        }
        for property in child.properties {
            sink.error(
                property.location, childPath, "unknown property \"\(property.name)\" on \"\(child.name)\"",
                hint: "write it as: \(child.name) <value>")
        }
        if child.typeAnnotation != nil {
            sink.error(child.location, childPath, "type annotations are not used in Sentinel configuration")
        }
        guard let first = child.arguments.first else {
            // A block in place of the value was reported above, once.
            if child.children.isEmpty {
                sink.error(child.location, childPath, "\"\(child.name)\" needs a value", hint: "write it as: \(child.name) <value>")
            }
            return nil
        }
        if child.arguments.count > 1 {
            sink.error(
                child.arguments[1].location, childPath, "\"\(child.name)\" takes one value, got \(child.arguments.count)")
        }
        if first.typeAnnotation != nil {
            sink.error(first.location, childPath, "type annotations are not used in Sentinel configuration")
        }
        return first
    }

    mutating func string(_ names: String..., allowEmpty: Bool = false) -> String? {
        trace(names, .string)
        guard let v = scalar(names) else { return nil }
        return ValueReader(sink: sink, path: path, key: names[0]).string(v, allowEmpty: allowEmpty)
    }

    mutating func int(_ names: String..., range: ClosedRange<Int64>) -> Int? {
        trace(names, .int(default: nil, range: range))
        guard let v = scalar(names) else { return nil }
        return ValueReader(sink: sink, path: path, key: names[0]).int(v, range: range)
    }

    mutating func int(_ names: String..., default value: Int, range: ClosedRange<Int64>) -> Int {
        trace(names, .int(default: Int64(value), range: range))
        guard let v = scalar(names) else { return value }
        return ValueReader(sink: sink, path: path, key: names[0]).int(v, range: range) ?? value
    }

    mutating func double(_ names: String..., default value: Double, range: ClosedRange<Double>) -> Double {
        trace(names, .double(default: value, range: range))
        guard let v = scalar(names) else { return value }
        return ValueReader(sink: sink, path: path, key: names[0]).double(v, range: range) ?? value
    }

    mutating func double(_ names: String..., range: ClosedRange<Double>) -> Double? {
        trace(names, .double(default: nil, range: range))
        guard let v = scalar(names) else { return nil }
        return ValueReader(sink: sink, path: path, key: names[0]).double(v, range: range)
    }

    mutating func bool(_ names: String..., default value: Bool) -> Bool {
        trace(names, .bool(default: value))
        guard let v = scalar(names) else { return value }
        return ValueReader(sink: sink, path: path, key: names[0]).bool(v) ?? value
    }

    mutating func bool(_ names: String...) -> Bool? {
        trace(names, .bool(default: nil))
        guard let v = scalar(names) else { return nil }
        return ValueReader(sink: sink, path: path, key: names[0]).bool(v)
    }

    /// A string value from a fixed vocabulary; aliases map onto the same case.
    mutating func choice<T>(_ names: String..., options: [(String, T)]) -> T? {
        trace(names, Self.choiceKind(options))
        guard let v = scalar(names) else { return nil }
        return ValueReader(sink: sink, path: path, key: names[0]).choice(v, options: options)
    }

    mutating func choice<T: Equatable>(_ names: String..., options: [(String, T)]) -> T? {
        trace(names, Self.choiceKind(options, default: nil))
        guard let v = scalar(names) else { return nil }
        return ValueReader(sink: sink, path: path, key: names[0]).choice(v, options: options)
    }

    mutating func choice<T: Equatable>(_ names: String..., default value: T, options: [(String, T)]) -> T {
        trace(names, Self.choiceKind(options, default: value))
        guard let v = scalar(names) else { return value }
        return ValueReader(sink: sink, path: path, key: names[0]).choice(v, options: options) ?? value
    }

    mutating func choice<T>(_ names: String..., default value: T, options: [(String, T)]) -> T {
        trace(names, Self.choiceKind(options))
        guard let v = scalar(names) else { return value }
        return ValueReader(sink: sink, path: path, key: names[0]).choice(v, options: options) ?? value
    }

    /// A byte size: an integer, or a string with a unit (`"10MB"`, `"512KiB"`).
    mutating func size(_ names: String..., default value: Int64? = nil, range: ClosedRange<Int64> = 0...Int64.max) -> Int64? {
        trace(names, .size(default: value, range: range))
        guard let v = scalar(names) else { return value }
        return ValueReader(sink: sink, path: path, key: names[0]).size(v, range: range) ?? value
    }

    /// A duration: an integer in `unit`, or a string with a unit (`"500ms"`, `"30s"`, `"1h"`).
    mutating func duration(_ names: String..., unit: DurationUnit, default value: Duration? = nil, min: Duration = .zero) -> Duration? {
        trace(names, .duration(secondsUnit: unit == .seconds, default: value, min: min))
        guard let v = scalar(names) else { return value }
        return ValueReader(sink: sink, path: path, key: names[0]).duration(v, unit: unit, min: min) ?? value
    }

    /// The string arguments of a child (`remove "A" "B"`, `methods "GET" "POST"`), possibly repeated.
    mutating func stringList(_ names: String...) -> [String]? {
        trace(names, .stringList)
        let found = all(names)
        if found.isEmpty { return nil }
        var result: [String] = []
        for child in found {
            var r = NodeReader(child, path: path.appending(child), sink: sink)
            let reader = ValueReader(sink: sink, path: path.appending(child), key: child.name)
            let args = r.arguments()
            if args.isEmpty, !child.children.isEmpty {
                // `cipher-suites { - "A"; - "B" }`: one error for the block, not one per entry.
                sink.error(child.location, path.appending(child), "\"\(child.name)\" takes its values on one line, not as a block",
                           hint: StaleKeys.hint(parent: path, key: child.name, block: true)
                               ?? "write it as: \(child.name) \"a\" \"b\"")
                continue
            }
            if args.isEmpty {
                sink.error(child.location, path.appending(child), "\"\(child.name)\" needs at least one value")
            }
            for arg in args {
                if let s = reader.string(arg) { result.append(s) }
            }
            r.finish()
        }
        return result
    }

    /// Integer arguments of a child (`retryable-status-codes 502 503`).
    mutating func intList(_ names: String..., range: ClosedRange<Int64>) -> [Int]? {
        trace(names, .intList(range: range))
        let found = all(names)
        if found.isEmpty { return nil }
        var result: [Int] = []
        for child in found {
            var r = NodeReader(child, path: path.appending(child), sink: sink)
            let reader = ValueReader(sink: sink, path: path.appending(child), key: child.name)
            let args = r.arguments()
            if args.isEmpty {
                sink.error(child.location, path.appending(child), "\"\(child.name)\" needs at least one value")
            }
            for arg in args {
                if let s = reader.int(arg, range: range) { result.append(s) }
            }
            r.finish()
        }
        return result
    }

    // MARK: - Arguments and properties of this node

    /// All arguments of this node, marked as consumed.
    mutating func arguments() -> [KDLValue] {
        argumentsHandled = true
        consumedArguments = node.arguments.count
        return node.arguments
    }

    /// The argument at `index`, marked as consumed.
    mutating func argument(_ index: Int) -> KDLValue? {
        consumedArguments = max(consumedArguments, index + 1)
        return index < node.arguments.count ? node.arguments[index] : nil
    }

    /// The node's identifier: its first argument, a non-empty string (`route "api"`).
    mutating func identifier(_ what: String) -> String? {
        guard let value = argument(0) else {
            sink.error(
                node.location, path, "\(node.name) needs an id",
                hint: "write it as: \(node.name) \"<\(what)-id>\" { … }")
            return nil
        }
        guard let id = value.stringValue, !id.isEmpty else {
            sink.error(value.location, path, "the id of \(node.name) must be a non-empty string, got \(value.typeName)")
            return nil
        }
        return id
    }

    /// The property named `names[0]` or an alias.
    mutating func property(_ names: String...) -> KDLValue? {
        knownProperties.append(contentsOf: names)
        trace(names, .property)
        for name in names {
            if let p = node.property(name) {
                claimedProperties.insert(name)
                return p.value
            }
        }
        return nil
    }

    var hasChildren: Bool { !node.children.isEmpty }

    // MARK: - Finishing

    /// Reports every child, property and argument that the schema did not ask for.
    mutating func finish() {
        guard !finished else { return }
        finished = true
        if node.typeAnnotation != nil {
            sink.error(node.location, path, "type annotations are not used in Sentinel configuration")
        }
        if !argumentsHandled, node.arguments.count > consumedArguments {
            let extra = node.arguments[consumedArguments]
            let what = consumedArguments == 0 ? "takes no value" : "takes \(consumedArguments) value\(consumedArguments == 1 ? "" : "s")"
            sink.error(
                extra.location, path, "unexpected value \(Self.show(extra)): \"\(node.name)\" \(what)",
                hint: node.children.isEmpty && consumedArguments == 0 ? "settings go inside the block: \(node.name) { … }" : nil)
        }
        for property in node.properties where !claimedProperties.contains(property.name) {
            sink.error(
                property.location, path, "unknown property \"\(property.name)\" on \"\(node.name)\"",
                hint: knownChildren.contains(property.name)
                    // `listener "https" address="…"`: a setting written as a property.
                    ? "\(property.name) is a setting inside the block: \(node.name) … { \(property.name) \(Self.show(property.value)) }"
                    : Suggest.hint(for: property.name, among: knownProperties, kind: "property"))
        }
        for (index, child) in node.children.enumerated() where !claimedChildren.contains(index) {
            sink.error(
                child.location, path, "unknown \(childNoun) \"\(child.name)\"",
                hint: StaleKeys.hint(parent: path, key: child.name) ?? Suggest.hint(for: child.name, among: knownChildren, kind: childNoun))
        }
    }

    static func show(_ value: KDLValue) -> String {
        switch value.kind {
        case .string(let s): return "\"\(s)\""
        case .number(let n): return n.canonical
        case .bool(let b): return b ? "#true" : "#false"
        case .null: return "#null"
        }
    }
}
