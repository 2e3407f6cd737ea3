import Foundation
import SentinelTestSupport
import Testing

/// The shipped `systemd/sentinel-agent-*.service` units: systemd accepts them, and each agent
/// starts with its unit's command line (the socket and settings file moved to a temporary place)
/// and stops cleanly on SIGTERM.
@Suite struct AgentUnitFileTests {
    static let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func execStart(_ unit: String) throws -> [String] {
        let text = try String(contentsOfFile: packageRoot + "/systemd/\(unit).service", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        return line.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
    }

    @Test(.enabled(if: analyze != nil, "needs systemd-analyze"), arguments: ["echo", "auth", "waf"])
    func systemdAcceptsTheUnit(_ name: String) throws {
        let dir = NSTemporaryDirectory() + "sentinel-units-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: packageRoot + "/systemd/sentinel-agent-\(name).service", encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/sentinel-agent-\(name)", with: builtProducts + "/sentinel-agent-\(name)")
        try text.write(toFile: dir + "/sentinel-agent-\(name).service", atomically: true, encoding: .utf8)
        let r = try runProcess(try #require(Self.analyze), ["verify", "--man=no", dir + "/sentinel-agent-\(name).service"])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stdout)\(r.stderr)")
    }

    @Test(arguments: ["echo", "auth", "waf"])
    func theAgentStartsWithItsUnitsCommandLine(_ name: String) throws {
        let dir = NSTemporaryDirectory() + "sentinel-units-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var args = try Self.execStart("sentinel-agent-\(name)")
        #expect(args.first == "/usr/local/bin/sentinel-agent-\(name)")
        args.removeFirst()
        let sock = "/tmp/sau-\(getpid())-\(name).sock"
        // The settings file of an installation: the auth agent needs something to check.
        try (name == "auth" ? #"{"api-key":"ops:ops-0123456789abcdef"}"# : "{}").write(toFile: dir + "/settings.json", atomically: true, encoding: .utf8)
        for i in args.indices {
            if args[i].hasPrefix("/run/") { args[i] = sock }
            if args[i].hasPrefix("/etc/sentinel/") { args[i] = dir + "/settings.json" }
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: builtProducts + "/sentinel-agent-\(name)")
        p.arguments = args
        let log = CollectedText()
        p.collectStderr(into: log)
        try p.run()
        #expect(pollUntil { access(sock, F_OK) == 0 || !p.isRunning }, "\(log.value)")
        #expect(p.isRunning, "\(args): \(log.value)")
        p.terminate()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(log.value)")
        #expect(access(sock, F_OK) != 0)
    }
}
