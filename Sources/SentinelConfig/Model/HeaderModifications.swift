public import KDL

/// A set of header edits, applied in the order rename → set → add → remove.
///
/// Written as
/// ```kdl
/// rename { X-Old "X-New" }
/// set { X-Frame-Options "DENY" }       // replaces any existing value
/// add { Via "1.1 sentinel" }            // appends another field line
/// remove "Server" "X-Powered-By"
/// ```
/// Used by `headers` filters and by a route's `policies { request-headers {…} response-headers {…} }`.
/// Names must be RFC 9110 tokens; values must not contain CR, LF or NUL.
public struct HeaderModifications: Sendable, Hashable {
    /// One `Name "value"` entry.
    public struct Field: Sendable, Hashable {
        public var name: String
        /// The value as written (with `{{` resolved to `{` when it has no variable).
        public var value: String
        public var location: KDLSourceLocation
        /// The value's parts when it refers to variables (`{tls_client_subject}`), else nil.
        public var template: [HeaderValuePart]? = nil
    }

    /// One `Old "New"` rename.
    public struct Rename: Sendable, Hashable {
        public var from: String
        public var to: String
        public var location: KDLSourceLocation
    }

    /// Headers renamed (values kept).
    public var rename: [Rename] = []
    /// Headers set, replacing any existing field of that name.
    public var set: [Field] = []
    /// Headers appended, keeping existing fields of that name.
    public var add: [Field] = []
    /// Header names removed.
    public var remove: [String] = []

    public init() {}

    /// True when no edit is configured.
    public var isEmpty: Bool { rename.isEmpty && set.isEmpty && add.isEmpty && remove.isEmpty }

    /// Reads a standalone block (`request-headers { … }`); its only children are the four edits.
    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> HeaderModifications {
        read(node, path: path, sink: sink, variables: false)
    }

    /// `variables`: whether `{name}` variables may appear in values (a route's `request-headers`).
    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink, variables: Bool) -> HeaderModifications {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        let result = read(from: &r, variables: variables)
        r.finish()
        return result
    }

    /// Reads `rename`/`set`/`add`/`remove` from a reader whose node also holds other keys
    /// (a `headers` filter); the caller finishes the reader.
    static func read(from r: inout NodeReader, variables: Bool = false) -> HeaderModifications {
        var m = HeaderModifications()
        let sink = r.sink
        if let block = r.single("rename") {
            for (name, value, location, path) in pairs(block, r.path, sink) {
                let okName = HTTPSyntax.checkHeaderName(name, at: location, path, sink)
                if okName, HTTPSyntax.checkHeaderName(value, at: location, path, sink) {
                    m.rename.append(Rename(from: name, to: value, location: location))
                }
            }
        }
        if let block = r.single("set") {
            var seen: [String: KDLSourceLocation] = [:]
            for (name, value, location, path) in pairs(block, r.path, sink) {
                guard HTTPSyntax.checkHeaderName(name, at: location, path, sink),
                      HTTPSyntax.checkHeaderValue(value, name: name, at: location, path, sink) else { continue }
                if let first = seen[name.lowercased()] {
                    sink.error(location, path, "header \"\(name)\" is set twice",
                               hint: "\"set\" replaces the header, so only one value can win (first at line \(first.line)); use \"add\" for several values")
                    continue
                }
                seen[name.lowercased()] = location
                if let f = field(name, value, location, path, sink, variables: variables) { m.set.append(f) }
            }
        }
        if let block = r.single("add") {
            for (name, value, location, path) in pairs(block, r.path, sink) {
                guard HTTPSyntax.checkHeaderName(name, at: location, path, sink),
                      HTTPSyntax.checkHeaderValue(value, name: name, at: location, path, sink) else { continue }
                if let f = field(name, value, location, path, sink, variables: variables) { m.add.append(f) }
            }
        }
        for child in r.all("remove") {
            var cr = NodeReader(child, path: r.path, sink: sink)
            let childPath = r.path.appending(child)
            let args = cr.arguments()
            if args.isEmpty {
                sink.error(child.location, childPath, "\"remove\" needs at least one header name",
                           hint: "write it as: remove \"Server\" \"X-Powered-By\"")
            }
            for arg in args {
                guard let name = ValueReader(sink: sink, path: childPath, key: "remove").string(arg) else { continue }
                if HTTPSyntax.checkHeaderName(name, at: arg.location, childPath, sink) { m.remove.append(name) }
            }
            cr.finish()
        }
        return m
    }

    /// A `set`/`add` entry, its value parsed for `{name}` variables.
    private static func field(
        _ name: String, _ value: String, _ location: KDLSourceLocation, _ path: ConfigPath, _ sink: DiagnosticSink, variables: Bool
    ) -> Field? {
        switch HeaderValueTemplate.parse(value) {
        case .failure(.unknownVariable(let v)):
            sink.error(location, path, "unknown variable {\(v)} in the value of header \"\(name)\"",
                       hint: "known variables: \(HeaderValueTemplate.known); write {{ for a literal {")
            return nil
        case .success(nil):
            return Field(name: name, value: value, location: location)
        case .success(let parts?):
            let hasVariable = parts.contains { if case .variable = $0 { true } else { false } }
            if !hasVariable {
                let plain = parts.map { if case .literal(let s) = $0 { s } else { "" } }.joined()
                return Field(name: name, value: plain, location: location)
            }
            guard variables else {
                sink.error(location, path, "variables such as {tls_client_subject} are expanded only in a route's request-headers",
                           hint: "write {{ for a literal {")
                return nil
            }
            return Field(name: name, value: value, location: location, template: parts)
        }
    }

    /// The `Name "value"` children of a block, each with exactly one string value.
    private static func pairs(_ block: KDLNode, _ parent: ConfigPath, _ sink: DiagnosticSink)
        -> [(String, String, KDLSourceLocation, ConfigPath)]
    {
        var br = NodeReader(block, path: parent.appending(block), sink: sink)
        br.childNoun = "header"
        var result: [(String, String, KDLSourceLocation, ConfigPath)] = []
        for child in br.remainingChildren() {
            let path = br.path.appending(child)
            guard let v = NodeReader.scalarValue(of: child, path: br.path, sink: sink) else { continue }
            guard let s = ValueReader(sink: sink, path: path, key: child.name).string(v, allowEmpty: block.name != "rename") else { continue }
            result.append((child.name, s, child.location, br.path))
        }
        br.finish()
        return result
    }
}
