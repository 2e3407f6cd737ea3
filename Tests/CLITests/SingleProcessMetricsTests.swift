import Foundation
import SentinelTestSupport
import Synchronization
import Testing

/// `sentinel` (one process): the reload gauges follow SIGHUP reloads, and the scrape carries the
/// process's own `process_*` families.
@Suite(.serialized) struct SingleProcessMetricsTests {
    /// A running `sentinel` whose stderr is collected.
    final class Running: Sendable {
        let process = Process()
        private let log = CollectedText()

        init(config: String) throws {
            process.executableURL = URL(fileURLWithPath: builtProducts + "/sentinel")
            process.arguments = ["--config", config]
            process.collectStderr(into: log)
            try process.run()
        }

        var text: String { log.value }

        func count(_ event: String) -> Int {
            text.split(separator: "\n").filter { $0.contains(#""event":"\#(event)""#) }.count
        }

        /// Polls the collected log until `condition` holds (false after 20 s).
        func wait(_ condition: () -> Bool) -> Bool { pollUntil(condition) }

        var port: Int? {
            for line in text.split(separator: "\n") where line.contains("\"listener_bound\"") {
                if let r = line.range(of: "127.0.0.1:") { return Int(line[r.upperBound...].prefix { $0.isNumber }) }
            }
            return nil
        }

        deinit { if process.isRunning { process.terminate() } }
    }

    static func value(_ text: String, _ key: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(key + " ") { return Double(line.dropFirst(key.count + 1)) }
        return nil
    }

    @Test func reloadGaugesFlipOnAFailedAndASuccessfulSIGHUP() throws {
        let dir = NSTemporaryDirectory() + "sentinel-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/s.kdl"
        let good = DefaultConfigText.withPortZero
        try good.write(toFile: file, atomically: true, encoding: .utf8)
        let s = try Running(config: file)
        #expect(s.wait { s.port != nil && s.count("started") == 1 }, "\(s.text)")
        let port = try #require(s.port)
        let first = try httpGet(port: port, path: "/metrics")
        #expect(Self.value(first, "sentinel_config_last_reload_successful") == 1, "\(first)")
        let startedAt = try #require(Self.value(first, "sentinel_config_last_reload_success_timestamp_seconds"))
        #expect(abs(startedAt - Date().timeIntervalSince1970) < 600)
        #expect((Self.value(first, "process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect(Self.value(first, "process_cpu_seconds_total") != nil)

        try (good + "\nnot-a-section {}\n").write(toFile: file, atomically: true, encoding: .utf8)
        kill(s.process.processIdentifier, SIGHUP)
        #expect(s.wait { s.count("reload_failed") == 1 })
        let failed = try httpGet(port: port, path: "/metrics")
        #expect(Self.value(failed, "sentinel_config_last_reload_successful") == 0)
        #expect(Self.value(failed, "sentinel_config_last_reload_success_timestamp_seconds") == startedAt)

        try good.write(toFile: file, atomically: true, encoding: .utf8)
        kill(s.process.processIdentifier, SIGHUP)
        #expect(s.wait { s.count("reloaded") == 1 })
        let reloaded = try httpGet(port: port, path: "/metrics")
        #expect(Self.value(reloaded, "sentinel_config_last_reload_successful") == 1)
        #expect((Self.value(reloaded, "sentinel_config_last_reload_success_timestamp_seconds") ?? 0) > startedAt)
        s.process.terminate()
        s.process.waitUntilExit()
        #expect(s.process.terminationStatus == 0)
    }
}
