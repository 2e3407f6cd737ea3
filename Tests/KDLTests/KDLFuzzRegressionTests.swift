import Foundation
import KDL
import Testing

/// Replays inputs kept in `Tests/KDLTests/Fuzz/` (crashes, hangs and slow cases found by
/// `Fuzz/fuzz-kdl.sh`, plus hand-written adversarial cases). Each must parse or be rejected
/// without crashing, quickly, and an accepted one must survive the print/re-parse round trip
/// the fuzzer checks.
@Suite struct KDLFuzzRegressionTests {
    static var fuzzDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fuzz")
    }

    @Test func regressionInputs() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fuzzDirectory.path).sorted()
        #expect(!names.isEmpty, "no regression inputs in \(Self.fuzzDirectory.path)")
        for name in names where !name.hasPrefix(".") && name != "README.md" {
            let bytes = [UInt8](try Data(contentsOf: Self.fuzzDirectory.appendingPathComponent(name)))
            let clock = ContinuousClock()
            let start = clock.now
            guard let document = try? KDLParser.parse(bytes: bytes, file: name) else { continue }
            let printed = document.canonicalText()
            let reparsed = try? KDLParser.parse(printed, file: name)
            #expect(reparsed?.canonicalText() == printed, "\(name): canonical text does not round-trip")
            #expect(clock.now - start < .seconds(5), "\(name): too slow")
        }
    }
}
