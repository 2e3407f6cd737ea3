/// The recursive-descent KDL 2 parser proper, working on validated UTF-8 bytes.
///
/// It is a value type with one cursor (`pos`), so it holds no shared state and each parse is
/// independent. Every loop advances `pos` or exits, every lookahead is bounded, and recursion
/// happens only for children blocks, which `maxDepth` limits: together that keeps hostile
/// input from costing more than linear time or overflowing the stack.
///
/// Because the input was validated up front (UTF-8 and no disallowed code points), a NUL byte
/// never appears in it, and `byte(at:)` uses 0 to mean "end of input".
struct KDLByteParser {
    var source: KDLSourceText
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var pos = 0

    init(source: KDLSourceText, maxDepth: Int) {
        self.source = source
        self.bytes = source.bytes
        self.maxDepth = maxDepth
    }

    // MARK: - Low-level helpers

    @inline(__always) var atEnd: Bool { pos >= bytes.count }

    /// The byte at `i`, or 0 past the end (0 cannot occur in validated input).
    @inline(__always) func byte(at i: Int) -> UInt8 { i < bytes.count ? bytes[i] : 0 }

    @inline(__always) var current: UInt8 { byte(at: pos) }

    /// Length of the newline starting at `i` (CRLF counts as one), or 0.
    @inline(__always) func newlineLength(at i: Int) -> Int {
        let b = byte(at: i)
        switch b {
        case 0x0A, 0x0B, 0x0C: return 1
        case 0x0D: return byte(at: i + 1) == 0x0A ? 2 : 1
        case 0xC2: return byte(at: i + 1) == 0x85 ? 2 : 0
        case 0xE2:
            return byte(at: i + 1) == 0x80 && (byte(at: i + 2) == 0xA8 || byte(at: i + 2) == 0xA9) ? 3 : 0
        default: return 0
        }
    }

    /// Length of the `unicode-space` scalar at `i`, or 0.
    @inline(__always) func spaceLength(at i: Int) -> Int {
        let b = byte(at: i)
        if b == 0x20 || b == 0x09 { return 1 }
        if b < 0x80 { return 0 }
        let (value, length) = source.scalar(at: i)
        return KDLCodePoints.isUnicodeSpace(value) ? length : 0
    }

    mutating func location(at offset: Int) -> KDLSourceLocation {
        source.location(at: offset)
    }

    mutating func error(
        _ message: String,
        at offset: Int,
        expected: String? = nil,
        hint: String? = nil
    ) -> KDLError {
        KDLError(location: location(at: offset), message: message, expected: expected, hint: hint)
    }

    /// A short printable description of the scalar at `i` for messages.
    func describe(at i: Int) -> String {
        if i >= bytes.count { return "end of file" }
        if newlineLength(at: i) > 0 { return "newline" }
        let (value, _) = source.scalar(at: i)
        if KDLCodePoints.isUnicodeSpace(value) { return "whitespace" }
        guard let scalar = Unicode.Scalar(value) else { return KDLSourceText.hex(value) }
        return "`\(Character(scalar))`"
    }

    // MARK: - Whitespace and comments

    /// Skips `ws*` (unicode spaces and block comments). Returns whether anything was skipped.
    @discardableResult
    mutating func skipWhitespace() throws(KDLError) -> Bool {
        let start = pos
        while true {
            let b = current
            if b == 0x20 || b == 0x09 {
                pos += 1
            } else if b == 0x2F && byte(at: pos + 1) == 0x2A {
                try skipBlockComment()
            } else if b >= 0x80, case let n = spaceLength(at: pos), n > 0 {
                pos += n
            } else {
                break
            }
        }
        return pos > start
    }

    /// Skips a (possibly nested) `/* ... */` comment starting at `pos`. Iterative, so nesting
    /// depth costs no stack.
    mutating func skipBlockComment() throws(KDLError) {
        let start = pos
        pos += 2
        var depth = 1
        while depth > 0 {
            guard pos < bytes.count else {
                throw error(
                    "unterminated block comment",
                    at: start,
                    expected: "`*/`",
                    hint: "block comments nest: every `/*` inside needs its own `*/`"
                )
            }
            let b = bytes[pos]
            if b == 0x2F && byte(at: pos + 1) == 0x2A {
                depth += 1
                pos += 2
            } else if b == 0x2A && byte(at: pos + 1) == 0x2F {
                depth -= 1
                pos += 2
            } else {
                pos += 1
            }
        }
    }

    /// Skips a `//` comment and the newline that ends it.
    mutating func skipLineComment() {
        pos += 2
        while pos < bytes.count {
            let n = newlineLength(at: pos)
            if n > 0 {
                pos += n
                return
            }
            pos += 1
        }
    }

    /// Skips `node-space*`: whitespace, block comments and `\` line continuations.
    @discardableResult
    mutating func skipNodeSpace() throws(KDLError) -> Bool {
        let start = pos
        while true {
            try skipWhitespace()
            guard current == 0x5C else { break }  // backslash
            try skipLineContinuation()
        }
        return pos > start
    }

    /// Skips `escline`: `\` ws* (single-line comment | newline | eof).
    mutating func skipLineContinuation() throws(KDLError) {
        pos += 1
        try skipWhitespace()
        if atEnd { return }
        if current == 0x2F && byte(at: pos + 1) == 0x2F {
            skipLineComment()
            return
        }
        let n = newlineLength(at: pos)
        guard n > 0 else {
            throw error(
                "unexpected \(describe(at: pos)) after `\\` line continuation",
                at: pos,
                expected: "a newline after `\\`",
                hint:
                    "outside strings `\\` continues a node on the next line; only whitespace or a comment may follow it"
            )
        }
        pos += n
    }

    /// Skips `line-space*`: node-space, newlines and `//` comments.
    mutating func skipLineSpace() throws(KDLError) {
        while true {
            try skipNodeSpace()
            let n = newlineLength(at: pos)
            if n > 0 {
                pos += n
            } else if current == 0x2F && byte(at: pos + 1) == 0x2F {
                skipLineComment()
            } else {
                return
            }
        }
    }

    // MARK: - Document and nodes

    mutating func parseDocument() throws(KDLError) -> [KDLNode] {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            pos = 3
        }
        try checkVersionMarker()
        return try parseNodes(depth: 0, openBrace: nil)
    }

    /// `/- kdl-version 1` at the top declares a KDL 1 document, which this parser does not
    /// read; say so instead of failing later on `true` or `r"..."` with a confusing message.
    mutating func checkVersionMarker() throws(KDLError) {
        guard current == 0x2F && byte(at: pos + 1) == 0x2D else { return }
        var i = pos + 2
        while case let n = spaceLength(at: i), n > 0 { i += n }
        let marker = Array("kdl-version".utf8)
        for (k, b) in marker.enumerated() where byte(at: i + k) != b { return }
        i += marker.count
        guard spaceLength(at: i) > 0 else { return }
        while case let n = spaceLength(at: i), n > 0 { i += n }
        if byte(at: i) == 0x31 && (spaceLength(at: i + 1) > 0 || newlineLength(at: i + 1) > 0) {
            throw error(
                "this document declares KDL version 1",
                at: pos,
                expected: "a KDL 2 document",
                hint: "Sentinel reads KDL 2; see https://kdl.dev for the differences (e.g. #true, #\"raw\"#)"
            )
        }
    }

    /// Parses `nodes` until end of input (top level) or a `}` (inside a children block; the
    /// `}` is left for the caller).
    mutating func parseNodes(depth: Int, openBrace: Int?) throws(KDLError) -> [KDLNode] {
        var nodes: [KDLNode] = []
        while true {
            try skipLineSpace()
            if atEnd {
                if let openBrace {
                    throw error(
                        "unclosed children block: this `{` has no matching `}`",
                        at: openBrace,
                        expected: "`}`",
                        hint: "add the missing `}` (the file ended inside this block)"
                    )
                }
                return nodes
            }
            if current == 0x7D {  // }
                if openBrace != nil { return nodes }
                throw error(
                    "unexpected `}`",
                    at: pos,
                    expected: "a node",
                    hint: "there is no open `{` for this `}`; remove it or add the missing `{`"
                )
            }
            var discarded = false
            if current == 0x2F && byte(at: pos + 1) == 0x2D {  // /-
                let slashdash = pos
                pos += 2
                try skipLineSpace()
                if atEnd || current == 0x7D {
                    throw error(
                        "`/-` must be followed by a node to comment out",
                        at: slashdash,
                        expected: "a node"
                    )
                }
                discarded = true
            }
            let node = try parseNode(depth: depth, inChildren: openBrace != nil)
            if !discarded { nodes.append(node) }
        }
    }

    mutating func parseNode(depth: Int, inChildren: Bool) throws(KDLError) -> KDLNode {
        var typeAnnotation: String?
        if current == 0x28 {  // (
            typeAnnotation = try parseTypeAnnotation()
            try skipNodeSpace()
        }
        let nameStart = pos
        let nameLocation = location(at: nameStart)
        guard case .string(let name) = try parseToken(expected: "a node name") else {
            throw error(
                "a node name must be a string, not \(describeToken(at: nameStart))",
                at: nameStart,
                expected: "a node name",
                hint: "quote it if you mean the text: \"\(text(from: nameStart, to: pos))\""
            )
        }
        var node = KDLNode(name: name, typeAnnotation: typeAnnotation, location: nameLocation)
        var properties = KDLPropertyCollector()
        var hasChildren = false
        var hasDiscardedChildren = false

        entries: while true {
            let hadSpace = try skipNodeSpace()
            if atEnd { break }
            let b = current
            let newline = newlineLength(at: pos)
            if newline > 0 {
                pos += newline
                break
            }
            switch b {
            case 0x3B:  // ;
                pos += 1
                break entries
            case 0x7D:  // }
                if inChildren { break entries }
                throw error(
                    "unexpected `}`",
                    at: pos,
                    expected: "a newline or `;` to end the node",
                    hint: "there is no open `{` for this `}`"
                )
            case 0x7B:  // {
                if hasChildren {
                    throw error(
                        "node `\(name)` already has a children block",
                        at: pos,
                        expected: "a newline or `;` to end the node",
                        hint: "merge the blocks, or comment one out with `/-`"
                    )
                }
                node.children = try parseChildren(depth: depth)
                hasChildren = true
                continue entries
            case 0x2F where byte(at: pos + 1) == 0x2F:  // //
                skipLineComment()
                break entries
            case 0x2F where byte(at: pos + 1) == 0x2D:  // /-
                let slashdash = pos
                pos += 2
                try skipLineSpace()
                if current == 0x7B {
                    _ = try parseChildren(depth: depth)
                    hasDiscardedChildren = true
                    continue entries
                }
                if atEnd || current == 0x3B || current == 0x7D {
                    throw error(
                        "`/-` must be followed by an argument, property or children block",
                        at: slashdash,
                        expected: "something to comment out"
                    )
                }
                // The errata allow `/-` directly after the previous entry (`node "a"/-1`).
                try checkEntryAllowed(
                    hadSpace: true,
                    afterChildren: hasChildren || hasDiscardedChildren,
                    at: slashdash
                )
                var ignored = KDLPropertyCollector()
                var ignoredArguments: [KDLValue] = []
                try parseEntry(arguments: &ignoredArguments, properties: &ignored)
            default:
                try checkEntryAllowed(hadSpace: hadSpace, afterChildren: hasChildren || hasDiscardedChildren, at: pos)
                try parseEntry(arguments: &node.arguments, properties: &properties)
            }
        }
        node.properties = properties.properties
        return node
    }

    mutating func checkEntryAllowed(hadSpace: Bool, afterChildren: Bool, at offset: Int) throws(KDLError) {
        if afterChildren {
            throw error(
                "arguments and properties must come before the children block",
                at: offset,
                expected: "a newline or `;` to end the node",
                hint: "move this before `{`, or end the node with a newline or `;`"
            )
        }
        if !hadSpace {
            switch current {
            case 0x2F:
                throw error(
                    "unexpected `/`",
                    at: pos,
                    expected: "whitespace, a newline or `;`",
                    hint: "`/` can't appear in a bare identifier; quote the string (\"a/b\")"
                )
            case 0x29, 0x5B, 0x5D:
                throw error(
                    "unexpected \(describe(at: pos))",
                    at: pos,
                    expected: "whitespace, a newline or `;`",
                    hint: "`(`, `)`, `[` and `]` can't appear in a bare identifier; quote the string"
                )
            case 0x3D:
                throw error(
                    "unexpected `=`",
                    at: pos,
                    expected: "a property key before `=`",
                    hint: "a property key must be a string, e.g. key=value"
                )
            case 0x23:
                throw error(
                    "unexpected `#`",
                    at: pos,
                    expected: "whitespace, a newline or `;`",
                    hint: "`#` can't appear in a bare identifier; quote the string (\"a#b\")"
                )
            default:
                throw error(
                    "missing whitespace before \(describe(at: pos))",
                    at: pos,
                    expected: "whitespace between a node's name, arguments and properties"
                )
            }
        }
    }

    /// Parses `{ nodes }` at `pos`, enforcing the depth limit.
    mutating func parseChildren(depth: Int) throws(KDLError) -> [KDLNode] {
        let open = pos
        guard depth + 1 <= maxDepth else {
            throw error(
                "children blocks nested too deeply (more than \(maxDepth) levels)",
                at: open,
                hint: "flatten the document; deep nesting is refused to protect the parser"
            )
        }
        pos += 1
        let children = try parseNodes(depth: depth + 1, openBrace: open)
        pos += 1  // the `}` that parseNodes stopped at
        return children
    }

    /// Parses one argument or property (with optional type annotation) at `pos`.
    mutating func parseEntry(
        arguments: inout [KDLValue],
        properties: inout KDLPropertyCollector
    ) throws(KDLError) {
        let start = pos
        let startLocation = location(at: start)
        var typeAnnotation: String?
        if current == 0x28 {
            typeAnnotation = try parseTypeAnnotation()
            try skipNodeSpace()
        }
        let valueStart = pos
        let token = try parseToken(expected: typeAnnotation == nil ? "an argument or property" : "a value")
        let afterToken = pos
        try skipNodeSpace()
        if current == 0x3D {  // =
            guard case .string(let key) = token else {
                throw error(
                    "a property key must be a string, not \(describeToken(at: valueStart))",
                    at: valueStart,
                    expected: "a string key",
                    hint: "quote it: \"\(text(from: valueStart, to: afterToken))\"=..."
                )
            }
            if typeAnnotation != nil {
                throw error(
                    "a type annotation can't precede a property key",
                    at: start,
                    expected: "a key",
                    hint: "annotate the value instead: key=(type)value"
                )
            }
            pos += 1
            try skipNodeSpace()
            let propertyValueStart = pos
            let propertyLocation = location(at: propertyValueStart)
            var valueType: String?
            if current == 0x28 {
                valueType = try parseTypeAnnotation()
                try skipNodeSpace()
            }
            if atEnd || newlineLength(at: pos) > 0 || current == 0x3B || current == 0x7D
                || (current == 0x2F && (byte(at: pos + 1) == 0x2D || byte(at: pos + 1) == 0x2F))
            {
                throw error(
                    "missing value for property `\(key)`",
                    at: pos,
                    expected: "a value after `=`",
                    hint: current == 0x2F && byte(at: pos + 1) == 0x2D
                        ? "`/-` can comment out a whole property (`/-key=value`), not just its value" : nil
                )
            }
            let value = try parseToken(expected: "a property value")
            properties.add(
                KDLProperty(
                    name: key,
                    value: KDLValue(value, typeAnnotation: valueType, location: propertyLocation),
                    location: startLocation
                )
            )
            return
        }
        pos = afterToken
        arguments.append(KDLValue(token, typeAnnotation: typeAnnotation, location: startLocation))
    }

    /// Parses `'(' node-space* string node-space* ')'` and returns the type name.
    mutating func parseTypeAnnotation() throws(KDLError) -> String {
        let open = pos
        pos += 1
        try skipNodeSpace()
        if current == 0x29 {
            throw error(
                "empty type annotation",
                at: open,
                expected: "a type name",
                hint: "write a type like (u16), or quote an empty one as (\"\")"
            )
        }
        let nameStart = pos
        guard case .string(let name) = try parseToken(expected: "a type name") else {
            throw error(
                "a type annotation must be a string, not \(describeToken(at: nameStart))",
                at: nameStart,
                expected: "a type name",
                hint: "quote it: (\"\(text(from: nameStart, to: pos))\")"
            )
        }
        try skipNodeSpace()
        guard current == 0x29 else {
            throw error(
                "unexpected \(describe(at: pos)) in type annotation",
                at: pos,
                expected: "`)`",
                hint: "a type annotation holds exactly one name, like (u16)"
            )
        }
        pos += 1
        return name
    }

    func text(from start: Int, to end: Int) -> String {
        let end = min(max(end, start), bytes.count)
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    func describeToken(at offset: Int) -> String {
        switch byte(at: offset) {
        case 0x23: return "a keyword"
        default: return "a number"
        }
    }
}
