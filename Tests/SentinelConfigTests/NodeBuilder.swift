import KDL
@testable import SentinelConfig

/// Builds KDL documents in tests without the parser:
/// `n("filter", "x") { n("type", "rate-limit"); n("max-rps", 10) }`.
/// Each node's location is the line and column of the `n(…)` call in the test source.

protocol KDLArg: Sendable {
    var kdlKind: KDLValue.Kind { get }
}

extension String: KDLArg {
    var kdlKind: KDLValue.Kind { .string(self) }
}

extension Int: KDLArg {
    var kdlKind: KDLValue.Kind { .number(KDLNumber(kind: .integer, canonical: String(self))) }
}

extension Double: KDLArg {
    var kdlKind: KDLValue.Kind { .number(KDLNumber(kind: .decimal, canonical: String(self))) }
}

extension Bool: KDLArg {
    var kdlKind: KDLValue.Kind { .bool(self) }
}

struct KDLNull: KDLArg {
    var kdlKind: KDLValue.Kind { .null }
}

@resultBuilder
enum NodesBuilder {
    static func buildExpression(_ node: KDLNode) -> [KDLNode] { [node] }
    static func buildExpression(_ nodes: [KDLNode]) -> [KDLNode] { nodes }
    static func buildBlock(_ parts: [KDLNode]...) -> [KDLNode] { parts.flatMap { $0 } }
    static func buildOptional(_ part: [KDLNode]?) -> [KDLNode] { part ?? [] }
    static func buildEither(first: [KDLNode]) -> [KDLNode] { first }
    static func buildEither(second: [KDLNode]) -> [KDLNode] { second }
    static func buildArray(_ parts: [[KDLNode]]) -> [KDLNode] { parts.flatMap { $0 } }
}

func n(
    _ name: String,
    _ args: any KDLArg...,
    props: KeyValuePairs<String, any KDLArg> = [:],
    line: Int = #line,
    column: Int = #column,
    @NodesBuilder _ children: () -> [KDLNode] = { [] }
) -> KDLNode {
    let at = KDLSourceLocation(file: "test.kdl", line: line, column: column)
    var offset = name.count + 1
    var values: [KDLValue] = []
    for a in args {
        values.append(KDLValue(a.kdlKind, location: KDLSourceLocation(file: "test.kdl", line: line, column: column + offset)))
        offset += 4
    }
    var properties: [KDLProperty] = []
    for (k, v) in props {
        let loc = KDLSourceLocation(file: "test.kdl", line: line, column: column + offset)
        properties.append(KDLProperty(name: k, value: KDLValue(v.kdlKind, location: loc), location: loc))
        offset += k.count + 4
    }
    return KDLNode(name: name, arguments: values, properties: properties, children: children(), location: at)
}

/// Runs a section reader with a fresh sink.
func read<T>(_ node: KDLNode, _ reader: (KDLNode, ConfigPath, DiagnosticSink) -> T) -> (T, DiagnosticSink) {
    let sink = DiagnosticSink()
    let result = reader(node, ConfigPath(), sink)
    return (result, sink)
}

extension DiagnosticSink {
    var errors: [ConfigDiagnostic] { sorted().filter { $0.severity == .error } }
    var warnings: [ConfigDiagnostic] { sorted().filter { $0.severity == .warning } }
    /// True when some error's message contains `text` (and, when given, its hint contains `hint`).
    func hasError(_ text: String, hint: String? = nil) -> Bool {
        errors.contains { $0.message.contains(text) && (hint == nil || ($0.hint ?? "").contains(hint!)) }
    }
    func hasWarning(_ text: String) -> Bool {
        warnings.contains { $0.message.contains(text) }
    }
    var dump: String { sorted().map(\.description).joined(separator: "\n") }
}
