/// The KDL 2 document model.
///
/// A parsed document keeps the source location of every node, argument and property so that
/// consumers (the Sentinel configuration layer) can report `file:line:col` for any value they
/// reject. The model is a plain immutable value: parse once, then walk it from any thread.

/// A position in a source text. Lines and columns are 1-based; columns count Unicode scalars.
public struct KDLSourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file name as given to the parser (or `<input>` for in-memory text).
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:col`, the form editors and terminals turn into links.
    public var description: String { "\(file):\(line):\(column)" }
}

/// A KDL number, kept exact.
///
/// KDL numbers have no size limit in the language, so the document keeps each one in an exact
/// decimal form and only converts on request: `int64Value` is nil when an integer does not fit
/// (the caller reports that clearly instead of wrapping or rounding).
public struct KDLNumber: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case integer
        case decimal
        case infinity
        case negativeInfinity
        case nan
    }

    public let kind: Kind
    /// The exact value in the KDL test suite's canonical form: integers as plain decimal
    /// (`-12`, `207698809136909011942886895`), decimals in `E` notation where the suite uses it
    /// (`1.0E-10`, `1.5`), and `#inf`, `#-inf`, `#nan`.
    public let canonical: String

    public init(kind: Kind, canonical: String) {
        self.kind = kind
        self.canonical = canonical
    }

    /// The value as a 64-bit integer, or nil when it is not an integer or does not fit.
    public var int64Value: Int64? {
        guard kind == .integer else { return nil }
        return Int64(canonical)
    }

    /// The value as a `Double` (may round; decimals and integers alike).
    public var doubleValue: Double {
        switch kind {
        case .infinity: return .infinity
        case .negativeInfinity: return -.infinity
        case .nan: return .nan
        case .integer, .decimal: return Double(canonical) ?? .nan
        }
    }

    public var description: String { canonical }
}

/// A KDL value with its optional type annotation and source location.
public struct KDLValue: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case string(String)
        case number(KDLNumber)
        case bool(Bool)
        case null
    }

    public var kind: Kind
    /// The `(type)` annotation, if any.
    public var typeAnnotation: String?
    public var location: KDLSourceLocation

    public init(_ kind: Kind, typeAnnotation: String? = nil, location: KDLSourceLocation) {
        self.kind = kind
        self.typeAnnotation = typeAnnotation
        self.location = location
    }

    public var stringValue: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    public var numberValue: KDLNumber? {
        if case .number(let n) = kind { return n }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = kind { return b }
        return nil
    }

    public var isNull: Bool {
        if case .null = kind { return true }
        return false
    }

    /// A short name of the value's type for diagnostics: "string", "integer", "number", "boolean", "null".
    public var typeName: String {
        switch kind {
        case .string: return "string"
        case .number(let n): return n.kind == .integer ? "integer" : "number"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }
}

/// A `key=value` property. `location` is where the key starts.
public struct KDLProperty: Sendable, Hashable {
    public var name: String
    public var value: KDLValue
    public var location: KDLSourceLocation

    public init(name: String, value: KDLValue, location: KDLSourceLocation) {
        self.name = name
        self.value = value
        self.location = location
    }
}

/// A KDL node: name, optional type annotation, arguments, properties and children.
public struct KDLNode: Sendable, Hashable {
    public var name: String
    public var typeAnnotation: String?
    /// Arguments in source order (slashdashed ones removed).
    public var arguments: [KDLValue]
    /// Properties with duplicates resolved (the rightmost occurrence wins), in the order in
    /// which each surviving key first appeared.
    public var properties: [KDLProperty]
    /// Child nodes in source order (slashdashed ones removed). Empty when there is no block.
    public var children: [KDLNode]
    /// Where the node name starts.
    public var location: KDLSourceLocation

    public init(
        name: String,
        typeAnnotation: String? = nil,
        arguments: [KDLValue] = [],
        properties: [KDLProperty] = [],
        children: [KDLNode] = [],
        location: KDLSourceLocation
    ) {
        self.name = name
        self.typeAnnotation = typeAnnotation
        self.arguments = arguments
        self.properties = properties
        self.children = children
        self.location = location
    }

    /// The property named `name`, if present.
    public func property(_ name: String) -> KDLProperty? {
        properties.first { $0.name == name }
    }
}

/// A whole KDL document: its top-level nodes.
public struct KDLDocument: Sendable, Hashable {
    public var nodes: [KDLNode]

    public init(nodes: [KDLNode]) {
        self.nodes = nodes
    }
}

/// A syntax error: where, what was expected, and a hint for the person fixing it.
public struct KDLError: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: KDLSourceLocation
    /// What is wrong, e.g. `unexpected "}"`, `unterminated string`.
    public var message: String
    /// What the parser expected at that point, if it can say (e.g. `a node name`).
    public var expected: String?
    /// A suggestion for fixing the text, if there is one.
    public var hint: String?

    public init(location: KDLSourceLocation, message: String, expected: String? = nil, hint: String? = nil) {
        self.location = location
        self.message = message
        self.expected = expected
        self.hint = hint
    }

    /// `file:line:col: error: message (expected …)` plus a `hint:` line when there is one.
    public var description: String {
        var s = "\(location): error: \(message)"
        if let expected { s += "; expected \(expected)" }
        if let hint { s += "\n  hint: \(hint)" }
        return s
    }
}
