import Foundation
import KDL
import Testing

/// Runs the official KDL 2 test suite (`shared/conformance/kdl/kdl-v2`): every input with an
/// expected twin must parse and print exactly the twin; every input without one must fail.
@Suite struct KDLConformanceTests {
    /// Where the suite is: `SENTINEL_KDL_SUITE`, or a `shared/conformance/kdl/kdl-v2` folder
    /// found walking up from this file (the repository is cloned next to `shared/`).
    static func locateSuite() -> (url: URL?, searched: [String]) {
        var searched: [String] = []
        if let env = ProcessInfo.processInfo.environment["SENTINEL_KDL_SUITE"], !env.isEmpty {
            let url = URL(fileURLWithPath: env)
            searched.append(url.path)
            return (
                FileManager.default.fileExists(atPath: url.appendingPathComponent("input").path) ? url : nil, searched
            )
        }
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("shared/conformance/kdl/kdl-v2")
            searched.append(candidate.path)
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("input").path) {
                return (candidate, searched)
            }
            dir = dir.deletingLastPathComponent()
        }
        return (nil, searched)
    }

    @Test func officialSuite() throws {
        if ProcessInfo.processInfo.environment["SENTINEL_SKIP_KDL_SUITE"] == "1" { return }
        let (found, searched) = Self.locateSuite()
        guard let suite = found else {
            Issue.record(
                """
                KDL conformance suite not found. Looked in:
                  \(searched.joined(separator: "\n  "))
                Set SENTINEL_KDL_SUITE=/path/to/kdl-v2 (the folder holding input/ and expected_kdl/), \
                or SENTINEL_SKIP_KDL_SUITE=1 to skip this test deliberately.
                """
            )
            return
        }
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
