import Foundation
import KDL
import Testing

/// Runs the official KDL 2 test suite, carried in `Conformance/kdl-v2` next to this file (source,
/// version and licence in `Conformance/README.md`): every input with an expected twin must parse
/// and print exactly the twin; every input without one must fail.
@Suite struct KDLConformanceTests {
    static let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Conformance/kdl-v2")

    @Test func officialSuite() throws {
        let suite = Self.suite
        let inputDir = suite.appendingPathComponent("input")
        let expectedDir = suite.appendingPathComponent("expected_kdl")
        let names = try FileManager.default.contentsOfDirectory(atPath: inputDir.path)
            .filter { $0.hasSuffix(".kdl") }.sorted()
        #expect(names.count > 300, "only \(names.count) cases in \(inputDir.path): wrong folder?")

        var failures: [String] = []
        var passed = 0
        for name in names {
            let input = try Data(contentsOf: inputDir.appendingPathComponent(name))
            let expectedURL = expectedDir.appendingPathComponent(name)
            let expected = try? String(contentsOf: expectedURL, encoding: .utf8)
            do {
                let document = try KDLParser.parse(bytes: [UInt8](input), file: name)
                guard let expected else {
                    failures.append("\(name): parsed, but should have been rejected")
                    continue
                }
                let printed = document.canonicalText()
                if printed == expected {
                    passed += 1
                    // The canonical form is a fixed point: printing it again changes nothing.
                    let again = try? KDLParser.parse(expected, file: "expected_kdl/\(name)").canonicalText()
                    if again != expected { failures.append("\(name): expected_kdl twin does not re-print as itself") }
                } else {
                    failures.append("\(name): printed\n\(printed)\n--- expected\n\(expected)")
                }
            } catch {
                if expected == nil {
                    passed += 1
                } else {
                    failures.append("\(name): rejected, but should parse: \(error)")
                }
            }
        }
        for failure in failures { Issue.record("KDL suite case failed: \(failure)") }
        print("KDL conformance: \(passed)/\(names.count) passed")
        #expect(passed == names.count)
    }
}
