import SentinelTestSupport
import Foundation
import Synchronization

/// A `sentinel-stack up` child process with its own directory, config, port and runtime directory.
///
/// Ports: a listener shared by several processes cannot use port 0 (each slot's socket would get a
/// different port), so the harness asks the kernel for a free port by binding port 0, closes that
/// socket and writes the number into the configuration. Another process could take the port in
/// between; on a test machine that is rare, and the test then fails loudly at bind, not silently.
/// Synchronisation is on log lines, the control socket and HTTP answers, never on sleeps.
final class StackProcess: Sendable {
    let dir: String
    let configPath: String
    let port: Int
    let process: Process
    private let log = CollectedText()

    /// `config` replaces the default configuration: it gets the listener port and the directory.
    /// `topLevel` is appended to the configuration (e.g. an `agents` block).
    init(
        workers: Int = 2, gracefulSecs: Int = 5, env: [String: String] = [:], config: ((Int, String) -> String)? = nil,
        topLevel: String = ""
    ) throws {
        dir = NSTemporaryDirectory() + "sst-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        port = try freePort()
        configPath = dir + "/sentinel.kdl"
        try ((config?(port, dir) ?? Self.config(workers: workers, gracefulSecs: gracefulSecs, port: port, dir: dir)) + "\n" + topLevel)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: builtProducts + "/sentinel-stack")
        process.arguments = ["up", "--config", configPath]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        process.collectStderr(into: log)
        try process.run()
    }

    /// `threads`: event loops per worker (0: the default, cores ÷ workers).
    static func config(workers: Int, gracefulSecs: Int, port: Int, dir: String, extra: String = "", threads: Int = 0) -> String {
        """
        \(prelude(workers: workers, gracefulSecs: gracefulSecs, port: port, dir: dir, threads: threads))
        routes {
            route "health" {
                matches { path "/health" }
                builtin-handler "health"
            }
            \(extra)
        }
        """
    }

    /// `schema-version`, `system` (workers, drain time, runtime directory under `dir`) and one
    /// HTTP listener on `port`: the start of the stack tests' configurations.
    static func prelude(workers: Int, gracefulSecs: Int = 5, port: Int, dir: String, threads: Int? = nil, dataPath: String = "nio") -> String {
        """
        schema-version "1.0"
        system {
            worker-processes \(workers)
            data-path "\(dataPath)"
            \(threads.map { "worker-threads \($0)" } ?? "")
            graceful-shutdown-timeout-secs \(gracefulSecs)
            runtime-directory "\(dir)/run"
        }
        listeners {
            listener "http" {
                address "127.0.0.1:\(port)"
                protocol "http"
            }
        }
        """
    }

    var text: String { log.value }

    /// Lines of the master's log with `"event":"<event>"`.
    func events(_ event: String) -> [String] {
        text.split(separator: "\n").filter { $0.contains(#""event":"\#(event)""#) }.map(String.init)
    }

    /// Waits (polling the collected log) until `condition` holds; false after `timeout`.
    func wait(timeout: Duration = .seconds(20), _ condition: () -> Bool) -> Bool {
        pollUntil(timeout: timeout, condition)
    }

    func waitForEvent(_ event: String, count: Int = 1, timeout: Duration = .seconds(20)) -> Bool {
        wait(timeout: timeout) { events(event).count >= count }
    }

    /// Runs `sentinel-stack <command> --config <this config>`.
    func stack(_ command: String) throws -> ProcessResult {
        try runBuilt("sentinel-stack", [command, "--config", configPath])
    }

    /// Worker pids of the live generation, from `sentinel-stack status`.
    func livePids() throws -> [Int32] {
        let status = try stack("status").stdout
        guard let data = status.data(using: .utf8),
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let live = json["live_generation"] as? Int,
              let gens = json["generations"] as? [[String: Any]],
              let g = gens.first(where: { $0["generation"] as? Int == live }),
              let workers = g["workers"] as? [[String: Any]]
        else { return [] }
        return workers.compactMap { ($0["pid"] as? Int).map(Int32.init) }
    }

    func exitStatus(timeout: Duration = .seconds(30)) -> Int32? {
        guard wait(timeout: timeout, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

func processGone(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return true }
    // A zombie waiting for its new parent to reap it has exited too.
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
}
