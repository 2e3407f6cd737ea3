import KDL
import SentinelFormat

/// A JSON value built from a free-form KDL block (`agent { config { … } }`,
/// `api-schema { request-schema { … } }`), delivered to whoever consumes it as JSON.
///
/// Conversion: a node with one argument and no children becomes that value; several arguments
/// become an array; properties and children become an object (children keyed by node name;
/// a repeated name becomes an array); a node named `-` is an array element.
public indirect enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(serialized())
    }

    init(_ value: KDLValue) {
        switch value.kind {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .string(let s): self = .string(s)
        case .number(let n):
            switch n.kind {
            case .integer, .decimal: self = .number(n.canonical)
            case .infinity, .negativeInfinity, .nan: self = .string(n.canonical)
            }
        }
    }

    /// The JSON value of a block's children (the block node itself is the container).
    static func object(ofChildrenOf node: KDLNode) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        for p in node.properties { fields.append((p.name, JSONValue(p.value))) }
        for child in node.children {
            let v = JSONValue(node: child)
            if let i = fields.firstIndex(where: { $0.0 == child.name }) {
                if case .array(var items) = fields[i].1, child.name != "-" {
                    items.append(v)
                    fields[i].1 = .array(items)
                } else {
                    fields[i].1 = .array([fields[i].1, v])
                }
            } else {
                fields.append((child.name, v))
            }
        }
        if !fields.isEmpty, fields.allSatisfy({ $0.0 == "-" }) {
            if fields.count == 1, case .array(let items) = fields[0].1 { return .array(items) }
            return .array(fields.map(\.1))
        }
        return .object(fields)
    }

    init(node: KDLNode) {
        if node.children.isEmpty && node.properties.isEmpty {
            switch node.arguments.count {
            case 0: self = .null
            case 1: self = JSONValue(node.arguments[0])
            default: self = .array(node.arguments.map(JSONValue.init))
            }
            return
        }
        if node.arguments.isEmpty {
            self = JSONValue.object(ofChildrenOf: node)
        } else {
            var fields: [(String, JSONValue)] = [("value", node.arguments.count == 1 ? JSONValue(node.arguments[0]) : .array(node.arguments.map(JSONValue.init)))]
            if case .object(let rest) = JSONValue.object(ofChildrenOf: node) { fields += rest }
            self = .object(fields)
        }
    }

    /// Compact JSON text.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): JSONString.append(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out += "," }
                JSONString.append(k, to: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }
}
