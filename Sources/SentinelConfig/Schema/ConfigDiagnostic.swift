public import KDL

/// One problem found in a configuration, located precisely enough for an operator to fix it
/// without reading Sentinel's source: `file:line:col`, the node path, what is wrong, and a hint.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    public var severity: Severity
    public var location: KDLSourceLocation
    /// The node path from the document root, e.g. `routes > route "api" > matches`.
    public var path: String
    public var message: String
    public var hint: String?

    public init(
        _ severity: Severity = .error,
        at location: KDLSourceLocation,
        path: String,
        _ message: String,
        hint: String? = nil
    ) {
        self.severity = severity
        self.location = location
        self.path = path
        self.message = message
        self.hint = hint
    }

    /// `file:line:col: error: path: message` and, when there is one, an indented `hint:` line.
    public var description: String {
        var s = "\(location): \(severity.rawValue): "
        if !path.isEmpty { s += "\(path): " }
        s += message
        if let hint { s += "\n    hint: \(hint)" }
        return s
    }
}

/// Every diagnostic of one load, collected so that an operator sees all of them at once
/// instead of fixing one error per run.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// The sink that schema readers write diagnostics to during one load. It is created per load
/// and never shared between threads.
final class DiagnosticSink {
    /// The file being loaded, for diagnostics that belong to no node.
    var mainFile = "<input>"
    /// Set by `ConfigLoader.traceSchema` only: the readers record every key they ask for.
    var schema: SchemaTrace?
    private(set) var diagnostics: [ConfigDiagnostic] = []
    /// Features the configuration uses that the data plane has not built yet.
    private(set) var unsupported: [ConfigDiagnostic] = []

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } || !unsupported.isEmpty }

    func error(_ location: KDLSourceLocation, _ path: ConfigPath, _ message: String, hint: String? = nil) {
        diagnostics.append(ConfigDiagnostic(.error, at: location, path: path.description, message, hint: hint))
    }

    func warning(_ location: KDLSourceLocation, _ path: ConfigPath, _ message: String, hint: String? = nil) {
        diagnostics.append(ConfigDiagnostic(.warning, at: location, path: path.description, message, hint: hint))
    }

    func notSupported(_ feature: String, _ location: KDLSourceLocation, _ path: ConfigPath, hint: String? = nil) {
        unsupported.append(
            ConfigDiagnostic(
                .error,
                at: location,
                path: path.description,
                "not supported yet: \(feature)",
                hint: hint ?? "this Sentinel build parses the setting but cannot honour it yet; remove it to start"
            )
        )
    }

    func append(_ diagnostic: ConfigDiagnostic) {
        diagnostics.append(diagnostic)
    }

    /// All diagnostics, sorted by file and position so the output reads top to bottom.
    func sorted() -> [ConfigDiagnostic] {
        (diagnostics + unsupported).enumerated().sorted { a, b in
            let l = a.element.location
            let r = b.element.location
            if l.file != r.file { return l.file < r.file }
            if l.line != r.line { return l.line < r.line }
            if l.column != r.column { return l.column < r.column }
            return a.offset < b.offset
        }.map(\.element)
    }
}

/// A node path such as `routes > route "api" > matches`, built as readers descend.
struct ConfigPath: CustomStringConvertible, Sendable {
    private var parts: [String]

    init(_ parts: [String] = []) { self.parts = parts }

    func appending(_ node: KDLNode, id: String? = nil) -> ConfigPath {
        var copy = self
        if let id { copy.parts.append("\(node.name) \"\(id)\"") } else { copy.parts.append(node.name) }
        return copy
    }

    func appending(_ part: String) -> ConfigPath {
        var copy = self
        copy.parts.append(part)
        return copy
    }

    var description: String { parts.joined(separator: " > ") }
}
