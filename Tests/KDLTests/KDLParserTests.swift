import KDL
import Testing

/// Behaviour the conformance suite does not pin down: error locations and hints, exact
/// numbers, limits, and the document model's duplicate/slashdash rules.
@Suite struct KDLParserTests {
    private func parseError(_ text: String, file: String = "t.kdl") -> KDLError? {
        do {
            _ = try KDLParser.parse(text, file: file)
            return nil
        } catch {
            return error
        }
    }

    private func parse(_ text: String) throws -> KDLDocument {
        try KDLParser.parse(text, file: "t.kdl")
    }

    // MARK: Errors: location, message, hint

    @Test func bareBooleanHasHint() throws {
        let error = try #require(parseError("node enabled=true\n"))
        #expect(error.location == KDLSourceLocation(file: "t.kdl", line: 1, column: 14))
        #expect(error.hint == "KDL 2 booleans are written #true / #false")
        #expect(error.description.hasPrefix("t.kdl:1:14: error: "))
        #expect(error.description.contains("hint: KDL 2 booleans"))
    }

    @Test func bareNullAndInfHaveHints() throws {
        #expect(try #require(parseError("a null")).hint?.contains("#null") == true)
        #expect(try #require(parseError("a -inf")).hint?.contains("#-inf") == true)
    }

    @Test func identifierThatLooksLikeANumber() throws {
        let error = try #require(parseError("size 10mb\n"))
        #expect(error.location.column == 6)
        #expect(error.message.contains("10mb"))
        #expect(error.hint?.contains("quote it") == true)
    }

    @Test func unterminatedStringPointsAtItsStart() throws {
        let error = try #require(parseError("a 1\nnode \"abc\nnext 2\n"))
        #expect(error.location.line == 2)
        #expect(error.location.column == 6)
        #expect(error.message.contains("unterminated"))
        let multi = try #require(parseError("x \"\"\"\n  text\n"))
        #expect(multi.location.line == 1 && multi.location.column == 3)
        let raw = try #require(parseError("x ##\"text\"# y"))
        #expect(raw.location.column == 3)
    }

    @Test func multiLineIndentErrorsPointAtTheLine() throws {
        let badLine = try #require(parseError("node \"\"\"\n    ok\n  bad\n    \"\"\"\n"))
        #expect(badLine.location.line == 3 && badLine.location.column == 1)
        let badClose = try #require(parseError("node \"\"\"\n    ok\n    x\"\"\"\n"))
        #expect(badClose.location.line == 3 && badClose.message.contains("own line"))
    }

    @Test func unbalancedBracePointsAtTheOpeningBrace() throws {
        let error = try #require(parseError("routes {\n    route \"a\" {\n        x 1\n    }\n"))
        #expect(error.location.line == 1)
        #expect(error.location.column == 8)
        #expect(error.expected == "`}`")
        let stray = try #require(parseError("a\n}\n"))
        #expect(stray.location.line == 2 && stray.location.column == 1)
    }

    @Test func columnsCountUnicodeScalars() throws {
        // "é" and "😀" are one scalar each (2 and 4 UTF-8 bytes).
        let error = try #require(parseError("é😀 true"))
        #expect(error.location.column == 4)
    }

    @Test func crlfAndOtherNewlinesCountAsOneLine() throws {
        let error = try #require(parseError("a\r\nb\u{2028}c\u{85}d\rtrue"))
        #expect(error.location.line == 5)
        #expect(error.location.column == 1)
    }

    @Test func invalidUTF8IsLocated() throws {
        var bytes = Array("node \"ok\"\nnode \"".utf8)
        bytes += [0xC3, 0x28, 0x22]
        do {
            _ = try KDLParser.parse(bytes: bytes, file: "bad.kdl")
            Issue.record("invalid UTF-8 accepted")
        } catch {
            #expect(error.location == KDLSourceLocation(file: "bad.kdl", line: 2, column: 7))
            #expect(error.message.contains("UTF-8"))
        }
    }

    @Test func disallowedCodePointsAreRejectedEvenInComments() throws {
        let error = try #require(parseError("a // \u{202E} evil\n"))
        #expect(error.location.column == 6)
        #expect(parseError("\u{FEFF}a 1") == nil)  // a BOM is fine at the start
        #expect(parseError("a \u{FEFF}1") != nil)
    }

    @Test func kdlVersionMarker() throws {
        #expect(try parse("/- kdl-version 2\nnode 1").nodes.count == 1)
        #expect(try #require(parseError("/- kdl-version 1\nnode true")).message.contains("version 1"))
    }

    @Test func missingWhitespaceAndStrayCharacters() throws {
        #expect(try #require(parseError("node\"a\"")).message.contains("whitespace"))
        #expect(try #require(parseError("node a/b")).hint?.contains("quote") == true)
        #expect(try #require(parseError("node {} x")).message.contains("before the children block"))
        #expect(try #require(parseError("node \"a\\/\"")).hint?.contains("needs no escape") == true)
        #expect(try #require(parseError("node r#\"x\"#")).hint?.contains("no leading r") == true)
    }

    // MARK: Numbers

    @Test func numbersAreExact() throws {
        let node = try #require(
            try parse(
                "n 0xABCDEF0123456789abcdef -0x10 0o777 0b1010 9223372036854775807 9223372036854775808 -9223372036854775808 007 1_000 +5 -0"
            )
            .nodes.first
        )
        let numbers = node.arguments.map { $0.numberValue! }
        #expect(
            numbers.map(\.canonical) == [
                "207698809136909011942886895", "-16", "511", "10", "9223372036854775807", "9223372036854775808",
                "-9223372036854775808", "7", "1000", "5", "0",
            ]
        )
        #expect(numbers[0].int64Value == nil)
        #expect(numbers[1].int64Value == -16)
        #expect(numbers[4].int64Value == Int64.max)
        #expect(numbers[5].int64Value == nil)
        #expect(numbers[6].int64Value == Int64.min)
        #expect(numbers.allSatisfy { $0.kind == .integer })
    }

    @Test func decimalsKeepTheirDigits() throws {
        let node = try #require(try parse("n 1.5 1e10 -0.000_1 1.23E-1000 #inf #-inf #nan 2.5").nodes.first)
        let numbers = node.arguments.map { $0.numberValue! }
        #expect(numbers.map(\.canonical) == ["1.5", "1E+10", "-0.0001", "1.23E-1000", "#inf", "#-inf", "#nan", "2.5"])
        #expect(numbers[0].kind == .decimal && numbers[0].int64Value == nil)
        #expect(numbers[4].kind == .infinity && numbers[5].kind == .negativeInfinity && numbers[6].kind == .nan)
        #expect(numbers[7].doubleValue == 2.5)
    }

    @Test func hugeRadixLiteralsAreRefusedNotSlow() throws {
        let digits = String(repeating: "f", count: 5000)
        #expect(try #require(parseError("n 0x\(digits)")).message.contains("too long"))
        let ok = try parse("n 0x" + String(repeating: "f", count: 4000))
        #expect(ok.nodes[0].arguments[0].numberValue!.canonical.count > 4800)
    }

    // MARK: Model rules

    @Test func rightmostPropertyWinsAtFirstPosition() throws {
        let node = try #require(try parse("n b=1 a=2 b=3 c=4 b=(t)5").nodes.first)
        #expect(node.properties.map(\.name) == ["b", "a", "c"])
        let b = try #require(node.property("b"))
        #expect(b.value.numberValue?.canonical == "5")
        #expect(b.value.typeAnnotation == "t")
        #expect(b.location.column == 19)
    }

    @Test func manyDuplicatePropertiesStayLinear() throws {
        var text = "n"
        for i in 0..<5000 { text += " k\(i % 100)=\(i)" }
        let node = try #require(try parse(text).nodes.first)
        #expect(node.properties.count == 100)
        #expect(node.property("k7")?.value.numberValue?.canonical == "4907")
        #expect(node.properties.first?.name == "k0")
    }

    @Test func slashdashRemovesNodesArgumentsPropertiesAndChildren() throws {
        let doc = try parse(
            """
            /-skipped 1 2 { child }
            kept 1 /-2 3 /-key=x other=y /-{ gone } {
                /- (t)inner
                real
            } /-{ also-gone }
            """
        )
        #expect(doc.nodes.count == 1)
        let node = doc.nodes[0]
        #expect(node.name == "kept")
        #expect(node.arguments.map { $0.numberValue!.canonical } == ["1", "3"])
        #expect(node.properties.map(\.name) == ["other"])
        #expect(node.children.map(\.name) == ["real"])
    }

    @Test func locationsOfNodesValuesAndProperties() throws {
        let doc = try parse("a {\n    (t)b 1 key=\"v\"\n}\n")
        let b = doc.nodes[0].children[0]
        #expect(b.location == KDLSourceLocation(file: "t.kdl", line: 2, column: 8))
        #expect(b.typeAnnotation == "t")
        #expect(b.arguments[0].location.column == 10)
        #expect(b.properties[0].location.column == 12)
        #expect(b.properties[0].value.location.column == 16)
    }

    @Test func stringsAndEscapes() throws {
        let doc = try parse(
            #"""
            n "tab\tq\"u{1F600}:\u{1F600}" #"raw \n"# "a\   b" """
                  indented
                line \s
                """
            """#
        )
        let args = doc.nodes[0].arguments.map { $0.stringValue! }
        #expect(args == ["tab\tq\"u{1F600}:😀", "raw \\n", "ab", "  indented\nline  "])
    }

    // MARK: Limits

    @Test func nestingDepthIsBounded() throws {
        let depth = KDLParser.maxNestingDepth
        let ok = String(repeating: "a {", count: depth) + String(repeating: "}", count: depth)
        #expect(parseError(ok) == nil)
        let tooDeep = String(repeating: "a {", count: 128) + String(repeating: "}", count: 128)
        let error = try #require(parseError(tooDeep))
        #expect(error.message.contains("nested too deeply"))
        #expect(error.location.column == 3 * depth + 3)
        // Far deeper input must still fail cleanly (no stack overflow), also inside slashdash.
        #expect(parseError(String(repeating: "a {", count: 100_000)) != nil)
        #expect(parseError("/-" + String(repeating: "a {", count: 100_000)) != nil)
        // Block comments nest without recursion.
        #expect(parseError(String(repeating: "/*", count: 100_000) + String(repeating: "*/", count: 100_000)) == nil)
    }

    @Test func emptyDocumentPrintsAsNewline() throws {
        #expect(try parse("").canonicalText() == "\n")
        #expect(try parse("// only a comment\n").nodes.isEmpty)
    }

    @Test func canonicalTextQuotesOnlyWhenNeeded() throws {
        let doc = try parse(#"n "plain" "two words" "1abc" "-1" ".5" "true" "" "a=b" "tab\there" "\u{85}" z=1 a=2"#)
        #expect(
            doc.canonicalText()
                == #"n plain "two words" "1abc" "-1" ".5" "true" "" "a=b" "tab\there" "\u{85}" a=2 z=1"# + "\n"
        )
        #expect(try parse(doc.canonicalText()).canonicalText() == doc.canonicalText())
    }
}
