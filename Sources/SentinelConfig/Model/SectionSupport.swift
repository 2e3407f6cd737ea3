import KDL

// Helpers shared by the section readers: references, header token checks, `${VAR}` checks.

extension NodeReader {
    /// A `key "<id>"` child naming another configuration object; records where the id is written.
    mutating func reference(_ kind: ConfigReference.Kind, _ names: String...) -> ConfigReference? {
        guard let child = single(names) else { return nil }
        guard let value = Self.scalarValue(of: child, path: path, sink: sink) else { return nil }
        guard let id = ValueReader(sink: sink, path: path, key: names[0]).string(value) else { return nil }
        return ConfigReference(kind: kind, id: id, location: value.location, path: path.appending(child).description)
    }

    /// A `key=value` property naming another configuration object.
    mutating func propertyReference(_ kind: ConfigReference.Kind, _ name: String) -> ConfigReference? {
        guard let value = property(name) else { return nil }
        guard let id = ValueReader(sink: sink, path: path, key: name).string(value) else { return nil }
        return ConfigReference(kind: kind, id: id, location: value.location, path: path.appending(name).description)
    }

    /// Like `string`, but also returns where the value is written (for later cross-checks).
    mutating func locatedString(_ names: String...) -> (value: String, location: KDLSourceLocation)? {
        guard let v = scalar(names) else { return nil }
        guard let s = ValueReader(sink: sink, path: path, key: names[0]).string(v) else { return nil }
        return (s, v.location)
    }

    /// The location of the first child named `name` (already read), or of this node.
    func locationOf(_ name: String) -> KDLSourceLocation {
        node.children.first { $0.name == name }?.location ?? node.location
    }

    /// True when a child with one of `names` is present (does not claim it).
    func has(_ names: String...) -> Bool {
        node.children.contains { names.contains($0.name) }
    }

    /// The string values of a list child, accepting either several arguments or one
    /// comma-separated string (`countries "US,CN"` or `countries "US" "CN"`).
    mutating func commaList(_ names: String...) -> [(String, KDLSourceLocation)]? {
        commaList(names)
    }

    mutating func commaList(_ names: [String]) -> [(String, KDLSourceLocation)]? {
        let found = all(names)
        if found.isEmpty { return nil }
        var result: [(String, KDLSourceLocation)] = []
        for child in found {
            var r = NodeReader(child, path: path, sink: sink)
            let reader = ValueReader(sink: sink, path: path.appending(child), key: child.name)
            let args = r.arguments()
            if args.isEmpty {
                sink.error(child.location, path.appending(child), "\"\(child.name)\" needs at least one value")
            }
            for arg in args {
                guard let s = reader.string(arg) else { continue }
                for part in s.split(separator: ",") {
                    let item = String(part).trimmingSpaces()
                    if !item.isEmpty { result.append((item, arg.location)) }
                }
            }
            r.finish()
        }
        return result
    }

    /// Claims everything in the node without reporting it (used after a fatal problem such as an
    /// unknown filter type, where every key would otherwise be reported as unknown).
    mutating func claimEverything() {
        _ = remainingChildren()
        for p in node.properties { _ = property(p.name) }
        _ = arguments()
    }
}

/// HTTP syntax checks (RFC 9110).
enum HTTPSyntax {
    /// `tchar` of RFC 9110 §5.6.2.
    static func isTokenChar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9": return true
        case "!", "#", "$", "%", "&", "'", "*", "+", "-", ".", "^", "_", "`", "|", "~": return true
        default: return false
        }
    }

    /// A header field name or method: a non-empty token.
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy(isTokenChar)
    }

    /// A field value must not contain CR, LF or NUL (response splitting / smuggling).
    static func isSafeFieldValue(_ s: String) -> Bool {
        !s.unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "\0" }
    }

    /// Reports and returns false when `name` is not a valid header field name.
    static func checkHeaderName(_ name: String, at location: KDLSourceLocation, _ path: ConfigPath, _ sink: DiagnosticSink) -> Bool {
        if isToken(name) { return true }
        let bad = name.unicodeScalars.first { !isTokenChar($0) }
        sink.error(
            location, path, "\"\(name)\" is not a valid HTTP header name",
            hint: bad.map { "header names are RFC 9110 tokens; \"\($0.escaped(asASCII: true))\" is not allowed" }
                ?? "a header name must not be empty")
        return false
    }

    /// Reports and returns false when `value` contains CR, LF or NUL.
    static func checkHeaderValue(_ value: String, name: String, at location: KDLSourceLocation, _ path: ConfigPath, _ sink: DiagnosticSink) -> Bool {
        if isSafeFieldValue(value) { return true }
        sink.error(
            location, path, "the value of header \"\(name)\" contains a line break or NUL character",
            hint: "header values must not contain CR, LF or NUL (they would split the header block)")
        return false
    }
}

/// `${VAR}` references in values that the stack manager expands at spawn time.
enum EnvInterpolation {
    /// Returns a problem description when `s` contains a malformed `${…}` reference, or nil.
    /// A valid reference is `${NAME}` with NAME = `[A-Za-z_][A-Za-z0-9_]*`. `$` not followed by
    /// `{` is literal.
    static func problem(in s: String) -> String? {
        let scalars = Array(s.unicodeScalars)
        var i = 0
        while i < scalars.count {
            if scalars[i] == "$", i + 1 < scalars.count, scalars[i + 1] == "{" {
                var j = i + 2
                var name = ""
                while j < scalars.count, scalars[j] != "}" {
                    name.unicodeScalars.append(scalars[j])
                    j += 1
                }
                if j >= scalars.count { return "unterminated \"${\" (missing \"}\")" }
                if name.isEmpty { return "empty variable name in \"${}\"" }
                let chars = Array(name.unicodeScalars)
                let validFirst = chars[0] == "_" || ("A"..."Z").contains(chars[0]) || ("a"..."z").contains(chars[0])
                let validRest = chars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
                if !validFirst || !validRest {
                    return "\"${\(name)}\" is not a valid variable name (letters, digits and _; not starting with a digit)"
                }
                i = j + 1
            } else {
                i += 1
            }
        }
        return nil
    }
}

/// Address syntax shared by sections.
enum AddressSyntax {
    /// `host:port` or `[v6]:port`, port 1...65535 (0 allowed when `allowZeroPort`).
    static func isHostPort(_ s: String, allowZeroPort: Bool = false) -> Bool {
        let host: Substring
        let port: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return false }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":") else { return false }
            port = rest.dropFirst()
        } else {
            guard let colon = s.lastIndex(of: ":") else { return false }
            host = s[..<colon]
            port = s[s.index(after: colon)...]
            if host.contains(":") { return false }
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return false }
        guard let p = Int(port), p <= 65_535, p >= (allowZeroPort ? 0 : 1) else { return false }
        return true
    }
}
