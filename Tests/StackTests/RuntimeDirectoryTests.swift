import SentinelTestSupport
import Foundation
import SentinelConfig
import Testing
@testable import SentinelMaster

/// Where a master keeps its control socket, and how the CLI finds it (docs/stack.md, "How an
/// instance is found").
@Suite struct RuntimeDirectoryTests {
    @Test func configuredThenRuntimeDirectoryVariableThenDerived() throws {
        let dir = NSTemporaryDirectory() + "rtd-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plain = dir + "/plain.kdl"
        let pinned = dir + "/pinned.kdl"
        try "system { worker-processes 1 }\n".write(toFile: plain, atomically: true, encoding: .utf8)
        try "system { runtime-directory \"/srv/run\" }\n".write(toFile: pinned, atomically: true, encoding: .utf8)
        let systemd = ["RUNTIME_DIRECTORY": "/run/sentinel:/run/other"]
        #expect(RuntimeDirectory.resolve(configPath: pinned, environment: systemd) == RuntimeDirectory(path: "/srv/run", origin: .configured))
        #expect(RuntimeDirectory.resolve(configPath: plain, environment: systemd) == RuntimeDirectory(path: "/run/sentinel", origin: .environment))
        let derived = RuntimeDirectory.resolve(configPath: plain, environment: [:])
        #expect(derived.origin == .derived && derived.path.contains("/plain-"))
        let builtin = RuntimeDirectory.resolve(source: .builtinDefault, environment: [:])
        #expect(builtin.origin == .derived && builtin.path.contains("/builtin-default-"))
        #expect(RuntimeDirectory.resolve(source: .builtinDefault, environment: systemd).path == "/run/sentinel")
    }

    /// As under systemd: no `--config` (the file comes from `$SENTINEL_CONFIG`) and no
    /// `runtime-directory`; the master uses `$RUNTIME_DIRECTORY`, and so do the client commands.
    @Test func upWithoutConfigOptionUsesTheEnvironmentAndRuntimeDirectory() throws {
        let dir = NSTemporaryDirectory() + "rtd-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try freePort()
        let config = dir + "/sentinel.kdl"
        try """
            system { worker-processes 1; }
            listeners { listener "http" { address "127.0.0.1:\(port)"; protocol "http"; } }
            routes { route "health" { matches { path "/health" }; builtin-handler "health"; } }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let env = ["SENTINEL_CONFIG": config, "RUNTIME_DIRECTORY": dir + "/run"]
        let master = Process()
        master.executableURL = URL(fileURLWithPath: builtProducts + "/sentinel-stack")
        master.arguments = ["up"]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        for (k, v) in env { environment[k] = v }
        master.environment = environment
        master.standardError = FileHandle.nullDevice
        master.standardOutput = FileHandle.nullDevice
        try master.run()
        defer { if master.isRunning { kill(master.processIdentifier, SIGKILL) } }
        let end = ContinuousClock.now + .seconds(20)
        while (try? KeepAliveClient(port: port).get("/health").status) != 200, ContinuousClock.now < end { usleep(20_000) }
        #expect(FileManager.default.fileExists(atPath: dir + "/run/control.sock"))
        let status = try shell(builtProducts + "/sentinel-stack", ["status"], env: env)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains(#""runtime_directory":"\#(dir)/run""#), "\(status.stdout)")
        #expect(status.stdout.contains(#""config":"\#(config)""#))
        let stop = try shell(builtProducts + "/sentinel-stack", ["stop"], env: env)
        #expect(stop.status == 0, "\(stop.stderr)")
        master.waitUntilExit()
        #expect(master.terminationStatus == 0)
    }
}
