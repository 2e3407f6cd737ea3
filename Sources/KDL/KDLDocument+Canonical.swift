/// The KDL test suite's canonical text form of a document.
///
/// One text per meaning: comments dropped, 4-space indents, properties sorted, strings
/// re-quoted only when a bare identifier would not read back the same, numbers in simplest
/// decimal form. The conformance tests compare against it, `sentinel` can show an operator
/// what the parser understood, and the fuzzer checks that printing then re-parsing is stable.
extension KDLDocument {
    /// The document in canonical form; an empty document is a single newline (as in the suite).
    public func canonicalText() -> String {
        if nodes.isEmpty { return "\n" }
        var out = ""
        for node in nodes { KDLCanonicalPrinter.write(node, depth: 0, to: &out) }
        return out
    }
}

/// Writes nodes, values and strings in the canonical form (see `KDLDocument.canonicalText()`).
enum KDLCanonicalPrinter {
    static func write(_ node: KDLNode, depth: Int, to out: inout String) {
        out += String(repeating: " ", count: depth * 4)
        if let type = node.typeAnnotation {
            out += "("
            writeString(type, to: &out)
            out += ")"
        }
        writeString(node.name, to: &out)
        for argument in node.arguments {
            out += " "
            write(argument, to: &out)
        }
        let sorted = node.properties.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        for property in sorted {
            out += " "
            writeString(property.name, to: &out)
            out += "="
            write(property.value, to: &out)
        }
        if !node.children.isEmpty {
            out += " {\n"
            for child in node.children { write(child, depth: depth + 1, to: &out) }
            out += String(repeating: " ", count: depth * 4)
            out += "}"
        }
        out += "\n"
    }

    static func write(_ value: KDLValue, to out: inout String) {
        if let type = value.typeAnnotation {
            out += "("
            writeString(type, to: &out)
            out += ")"
        }
        switch value.kind {
        case .string(let s): writeString(s, to: &out)
        case .number(let n): out += n.canonical
        case .bool(let b): out += b ? "#true" : "#false"
        case .null: out += "#null"
        }
    }

    /// Writes `s` bare when it is a valid identifier, otherwise as an escaped quoted string.
    static func writeString(_ s: String, to out: inout String) {
        if KDLCodePoints.isValidBareIdentifier(s) {
            out += s
            return
        }
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case let v where KDLCodePoints.isDisallowed(v) || KDLCodePoints.isNewline(v):
                out += "\\u{" + String(v, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
