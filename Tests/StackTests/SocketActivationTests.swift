import SentinelTestSupport
import Foundation
import SentinelMaster
import Testing

/// systemd socket activation, without systemd: the test binds a listening socket on port 0,
/// starts `sentinel-stack up` with it as fd 3 and LISTEN_FDS=1, LISTEN_PID set by a shell that
/// then execs the master (so the pid is the master's own), as systemd would.
@Suite(.serialized) struct SocketActivationTests {
    /// A master started with passed sockets; its log goes to a file the test reads.
    final class ActivatedStack {
        let dir = NSTemporaryDirectory() + "sst-act-" + String(UUID().uuidString.prefix(8))
        var configPath: String { dir + "/sentinel.kdl" }
        var logPath: String { dir + "/master.log" }
        private(set) var pid: Int32 = 0
        private var status: Int32?

        init(config: (String) -> String, passing fds: [Int32], names: [String]) throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try config(dir).write(toFile: configPath, atomically: true, encoding: .utf8)
            var env = ProcessInfo.processInfo.environment
            for key in ["NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "SENTINEL_CONFIG"] { env.removeValue(forKey: key) }
            env["LISTEN_FDS"] = String(fds.count)
            env["LISTEN_FDNAMES"] = names.joined(separator: ":")
            pid = try Spawner.spawn(
                executable: "/bin/sh",
                arguments: ["sh", "-c", #"LISTEN_PID=$$ exec "$0" up --config "$1" 2>"$2""#, builtProducts + "/sentinel-stack", configPath, logPath],
                environment: env.map { "\($0.key)=\($0.value)" }, fds: fds)
        }

        var text: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        func events(_ event: String) -> [String] {
            text.split(separator: "\n").filter { $0.contains(#""event":"\#(event)""#) }.map(String.init)
        }

        func wait(timeout: Duration = .seconds(20), _ condition: () -> Bool) -> Bool {
            pollUntil(timeout: timeout, condition)
        }

        func exitStatus(timeout: Duration = .seconds(30)) -> Int32? {
            _ = wait(timeout: timeout) {
                if status != nil { return true }
                var st: Int32 = 0
                if waitpid(pid, &st, WNOHANG) == pid { status = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f) }
                return status != nil
            }
            return status
        }

        func stack(_ command: String) throws -> ProcessResult { try runBuilt("sentinel-stack", [command, "--config", configPath]) }

        deinit {
            if status == nil { kill(pid, SIGKILL); var st: Int32 = 0; waitpid(pid, &st, 0) }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// A listening TCP socket on 127.0.0.1, port 0 (no SO_REUSEPORT, as systemd binds by default).
    static func listeningSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard let port = bindLoopback(fd), listen(fd, 128) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        return (fd, port)
    }

    static func config(dir: String, workers: Int, listeners: [(String, Int)], route: String = "health") -> String {
        """
        schema-version "1.0"
        system {
            worker-processes \(workers)
            graceful-shutdown-timeout-secs 5
            runtime-directory "\(dir)/run"
        }
        listeners {
        \(listeners.map { #"    listener "\#($0.0)" { address "127.0.0.1:\#($0.1)"; protocol "http"; }"# }.joined(separator: "\n"))
        }
        routes {
            route "main" {
                matches { path "/" }
                builtin-handler "\(route)"
            }
        }
        """
    }

    @Test func passedSocketIsServedAndOtherListenersAreBoundAsUsual() throws {
        let passed = try Self.listeningSocket()
        var ownCopy = true  // closed below; never twice (the number may belong to another test by then)
        defer { if ownCopy { close(passed.fd) } }
        let bound = try freePort()
        let stack = try ActivatedStack(
            config: { Self.config(dir: $0, workers: 1, listeners: [("activated", passed.port), ("bound", bound)]) },
            passing: [passed.fd], names: ["http"])
        #expect(stack.wait { !stack.events("started").isEmpty }, "log: \(stack.text)")
        let adopted = try #require(stack.events("socket_activated").first)
        #expect(adopted.contains(#""fd":3"#) && adopted.contains(#""name":"http""#) && adopted.contains("127.0.0.1:\(passed.port)"))
        // The passed socket has no SO_REUSEPORT: had the master bound the address itself, `up` would have failed.
        #expect(try KeepAliveClient(port: passed.port).get("/").body.contains("healthy"))
        #expect(try KeepAliveClient(port: bound).get("/").body.contains("healthy"))
        // A reload keeps serving through the passed socket (the new generation inherits it too).
        try Self.config(dir: stack.dir, workers: 1, listeners: [("activated", passed.port), ("bound", bound)], route: "welcome")
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        #expect(try stack.stack("reload").status == 0)
        #expect(stack.wait { (try? KeepAliveClient(port: passed.port).get("/").body.contains("Sentinel is running")) == true })
        // Test's own copy closed: only the master (as systemd's copy would) keeps it open.
        close(passed.fd)
        ownCopy = false
        #expect(try KeepAliveClient(port: passed.port).get("/").status == 200)
        #expect(try stack.stack("stop").status == 0)
        #expect(stack.exitStatus() == 0)
    }

    @Test func aPassedSocketMatchingNoListenerIsAClearError() throws {
        let passed = try Self.listeningSocket()
        defer { close(passed.fd) }
        let configured = try freePort()
        let stack = try ActivatedStack(
            config: { Self.config(dir: $0, workers: 1, listeners: [("http", configured)]) }, passing: [passed.fd], names: ["web"])
        #expect(stack.exitStatus() == 1)
        let failed = try #require(stack.events("startup_failed").first, "log: \(stack.text)")
        #expect(failed.contains("fd 3 (127.0.0.1:\(passed.port))") && failed.contains("matches no listener address"), "\(failed)")
        #expect(stack.events("worker_spawned").isEmpty)
    }
}
