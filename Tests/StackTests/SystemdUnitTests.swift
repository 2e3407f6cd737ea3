import SentinelTestSupport
import Foundation
import Synchronization
import Testing

/// The shipped `systemd/sentinel-stack.service` and `.socket`, installed by `systemd/install.sh`,
/// under a real systemd: PID 1 of private pid/mount/uts/ipc/cgroup namespaces
/// (`Tests/StackTests/systemd/sd-ns.sh`; /etc, /usr/local and /var are overlays there, so the
/// host's files never change). Needs root and a systemd binary; where they are missing the test is
/// skipped with the reason printed (`SENTINEL_SYSTEMD_TEST=require` turns that into a failure).
///
/// The unit runs as shipped, with one test drop-in: a short watchdog and restart delay, no core
/// dumps, and the socket unit's ListenStream= moved to a free port.
@Suite(.serialized) struct SystemdUnitTests {
    static let script = packageRoot + "/Tests/StackTests/systemd/sd-ns.sh"

    /// Why this machine cannot boot systemd in namespaces; nil when it can.
    static let problem: String? = {
        guard let r = try? shell("/bin/bash", [script, "check"]) else { return "cannot run \(script)" }
        return r.status == 0 ? nil : r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    static func enabled() -> Bool {
        guard let problem else { return true }
        if ProcessInfo.processInfo.environment["SENTINEL_SYSTEMD_TEST"] == "require" { return true }
        FileHandle.standardError.write(Data("SystemdUnitTests SKIPPED: systemd cannot run here: \(problem)\n".utf8))
        return false
    }

    @Test(.enabled(Comment(rawValue: "needs root and systemd (Tests/StackTests/systemd/sd-ns.sh check)")) { enabled() },
          .timeLimit(.minutes(2)))
    func shippedUnitsUnderARealSystemd() throws {
        if let problem = Self.problem { Issue.record("systemd cannot run here: \(problem)"); return }
        let ns = try SystemdNamespace()
        defer { ns.down() }
        let unit = "sentinel-stack.service"

        // Installed the documented way, then configured as an operator would (no runtime-directory).
        try ns.install()
        let doc = try ns.ctl(["show", "-p", "Documentation", "--value", unit, "sentinel-stack.socket"]).stdout
        #expect(doc.contains("file:/"))
        for url in doc.split(whereSeparator: { $0 == " " || $0 == "\n" }) where url.hasPrefix("file:") {
            #expect(try ns.exec(["test", "-f", String(url.dropFirst(5))]).status == 0, "Documentation= \(url) is installed")
        }
        #expect(try ns.exec(["stat", "-c", "%a %U %G", "/etc/sentinel"]).stdout.trimmed == "750 root sentinel")
        try ns.writeConfig(version: 1)
        let verify = try ns.exec(["systemd-analyze", "verify", "/etc/systemd/system/\(unit)", "/etc/systemd/system/sentinel-stack.socket"])
        #expect(verify.status == 0, "systemd-analyze verify: \(verify.stderr)")

        // Socket activation: the socket is active, the service starts with the first connection.
        #expect(try ns.ctl(["start", "sentinel-stack.socket"]).status == 0)
        #expect(try ns.ctl(["is-active", unit]).stdout.trimmed == "inactive")
        #expect(try KeepAliveClient(port: ns.port).get("/health").status == 200)
        #expect(try ns.prop("ActiveState") == "active" && ns.prop("SubState") == "running", "READY=1 reached active/running")
        let statusText = try ns.prop("StatusText")
        #expect(statusText.hasPrefix("generation 1 live"), "STATUS=: \(statusText)")
        #expect(try ns.ctl(["status", "--no-pager", unit]).stdout.contains("Status: \"generation 1 live"))
        #expect(ns.events("socket_activated").count == 1, "journal: \(ns.journalText())")
        let firstMaster = try ns.prop("MainPID")

        // An operator's CLI (root, no $RUNTIME_DIRECTORY) finds the master in /run/sentinel.
        let status = try ns.exec(["/usr/local/bin/sentinel-stack", "status", "--config", "/etc/sentinel/sentinel.kdl"])
        #expect(status.status == 0, "status: \(status.stderr)")
        #expect(status.stdout.contains(#""runtime_directory":"/run/sentinel""#), "\(status.stdout)")
        #expect(try ns.exec(["test", "-S", "/run/sentinel/control.sock"]).status == 0)

        // Children are named after the binary and their role, not "exe".
        let names = try ns.exec(["ps", "-o", "comm=", "--ppid", firstMaster]).stdout.split(separator: "\n").map { $0.trimmed }
        #expect(!names.isEmpty && !names.contains("exe"), "children: \(names)")
        #expect(names.contains("sentinel-worker") && names.contains("sentinel-guard"), "children: \(names)")

        // Hardening: the probe agent (running inside the service) may write only its directories.
        #expect(ns.wait { ns.events("agent_output").contains { $0.contains("probe done") } }, "journal: \(ns.journalText())")
        let probe = ns.events("agent_output").joined(separator: "\n")
        for path in ["/var/lib/sentinel/p", "/var/log/sentinel/p", "/run/sentinel/p", "/tmp/\(ns.token)"] {
            #expect(probe.contains("write \(path) ok"), "\(path) writable: \(probe)")
        }
        for path in ["/etc/sentinel/p", "/etc/open/p", "/var/open/p", "/usr/local/p", "/root/p"] {
            #expect(probe.contains("write \(path) denied"), "\(path) must not be writable: \(probe)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/\(ns.token)"), "PrivateTmp: the host's /tmp is untouched")
        #expect(probe.contains("user sentinel"))

        // Reload: a new generation; then a bad configuration fails `systemctl reload` and the
        // old generation keeps serving.
        try ns.writeConfig(version: 2)
        let reload = try ns.ctl(["reload", unit])
        #expect(reload.status == 0, "reload: \(reload.stderr) \(ns.journalText())")
        #expect(try ns.prop("StatusText").hasPrefix("generation 2 live"))
        // The old worker may accept a connection or two until it handles DRAIN, hence the poll.
        #expect(ns.wait { (try? KeepAliveClient(port: ns.port).get("/v2").status) == 200 })
        try ns.writeConfig(version: 3, broken: true)
        let bad = try ns.ctl(["reload", unit])
        #expect(bad.status != 0, "a bad configuration fails the reload job")
        let failedText = try ns.prop("StatusText")
        #expect(failedText.contains("reload failed"), "STATUS=: \(failedText)")
        #expect(try KeepAliveClient(port: ns.port).get("/v2").status == 200, "generation 2 still serves")
        #expect(try ns.prop("ActiveState") == "active" && ns.prop("MainPID") == firstMaster)
        try ns.writeConfig(version: 2)

        // Journal: the master, its worker and its guard write JSON lines only (the CLI commands
        // systemd runs, `check` and `reload`, print their own text); systemd has no warning.
        let worker = try ns.exec(["ps", "-o", "pid=", "-C", "sentinel-worker"]).stdout.split(separator: "\n").first?.trimmed ?? ""
        let guardPid = try ns.exec(["ps", "-o", "pid=", "-C", "sentinel-guard"]).stdout.split(separator: "\n").first?.trimmed ?? ""
        for pid in [firstMaster, worker, guardPid] {
            let lines = try ns.sd(["journal", "-o", "cat", "_PID=\(pid)"]).stdout.split(separator: "\n")
            let stray = lines.filter { !$0.hasPrefix("{") }
            #expect(stray.isEmpty, "non-JSON lines of pid \(pid) in the journal: \(stray)")
        }
        #expect(!ns.journalText().contains("thread priority"))
        #expect(!ns.journalText().contains("already exists but the mode is different"))

        // Watchdog: a stopped master sends no WATCHDOG=1; systemd aborts and restarts it, and the
        // new master gets the listening socket from systemd again.
        #expect(try ns.exec(["kill", "-STOP", firstMaster]).status == 0)
        #expect(ns.wait(timeout: .seconds(30)) {
            (try? ns.prop("NRestarts")) == "1" && (try? ns.prop("MainPID")) != firstMaster && (try? ns.prop("SubState")) == "running"
        }, "journal: \(ns.journalText())")
        #expect(ns.journalText().contains("Watchdog timeout"))
        #expect(try KeepAliveClient(port: ns.port).get("/v2").status == 200)

        // Stop drains: a request in flight completes, everything exits without systemd's SIGKILL.
        let upstream = ns.upstream
        let before = upstream.received
        let result = Mutex<Result<Int, any Error>?>(nil)
        let port = ns.port
        Thread {
            let r = Result { try KeepAliveClient(port: port).get("/slow/1500").status }
            result.withLock { $0 = r }
        }.start()
        #expect(ns.wait { upstream.received > before })
        let journalBefore = ns.journalText().split(separator: "\n").count
        let stop = try ns.ctl(["stop", unit])
        #expect(stop.status == 0)
        #expect(ns.wait { result.withLock { $0 } != nil })
        #expect((try? result.withLock { $0 }?.get()) == 200, "the request in flight completed")
        #expect(try ns.prop("Result") == "success")
        let journal = ns.journalText().split(separator: "\n").dropFirst(journalBefore).joined(separator: "\n")
        #expect(ns.events("stopped").last?.contains(#""clean":true"#) == true, "journal: \(journal)")
        #expect(!journal.contains("SIGKILL"), "nothing was left for systemd to kill: \(journal)")
        #expect(!journal.contains("thread priority"))
        #expect(try ns.ctl(["stop", "sentinel-stack.socket"]).status == 0)
        #expect(try ns.ctl(["--failed", "--no-legend", "--plain"]).stdout.trimmed.isEmpty)
    }
}

/// One systemd in namespaces, the project's units installed in it, and an upstream on the host.
final class SystemdNamespace: Sendable {
    let dir: String
    let port: Int
    let token = "sentinel-probe-" + String(UUID().uuidString.prefix(8))
    let upstream: SlowUpstream

    init() throws {
        dir = NSTemporaryDirectory() + "sd-ns-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir + "/units/sentinel-stack.service.d", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/units/sentinel-stack.socket.d", withIntermediateDirectories: true)
        port = try freePort()
        upstream = try SlowUpstream()
        // The test drop-ins (/run/systemd/system in the namespace): a 2 s watchdog, a quick restart.
        try """
            [Service]
            WatchdogSec=2s
            RestartSec=300ms
            LimitCORE=0
            """.write(toFile: dir + "/units/sentinel-stack.service.d/test.conf", atomically: true, encoding: .utf8)
        try """
            [Socket]
            ListenStream=
            ListenStream=127.0.0.1:\(port)
            """.write(toFile: dir + "/units/sentinel-stack.socket.d/test.conf", atomically: true, encoding: .utf8)
        let up = try sd(["up", dir + "/units/sentinel-stack.service.d", dir + "/units/sentinel-stack.socket.d"])
        guard up.status == 0 else { throw Failure("sd-ns.sh up: \(up.stdout) \(up.stderr)") }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func sd(_ args: [String]) throws -> ProcessResult {
        try shell("/bin/bash", [SystemdUnitTests.script] + args, env: ["SDNS_STATE": dir + "/state"])
    }

    func ctl(_ args: [String]) throws -> ProcessResult { try sd(["ctl"] + args) }
    func exec(_ args: [String]) throws -> ProcessResult { try sd(["exec"] + args) }

    func prop(_ name: String) throws -> String {
        try ctl(["show", "-p", name, "--value", "sentinel-stack.service"]).stdout.trimmed
    }

    /// `systemd/install.sh` with the built binary, inside the namespace.
    func install() throws {
        let r = try exec(["/bin/sh", "-c", "cd '\(packageRoot)' && sh systemd/install.sh '\(builtProducts)/sentinel-stack'"])
        guard r.status == 0 else { throw Failure("install.sh: \(r.stdout) \(r.stderr)") }
        // Directories anyone may write to, outside the service's own: ProtectSystem= must still refuse.
        _ = try exec(["install", "-d", "-m", "1777", "/etc/open", "/var/open"])
        let probe = """
            #!/bin/sh
            echo "probe user $(id -un)"
            for p in "$@"; do
                if ( : > "$p" ) 2>/dev/null; then echo "probe write $p ok"; else echo "probe write $p denied"; fi
            done
            echo "probe done"
            """
        try put(probe, at: "/etc/sentinel/probe.sh", mode: "0755")
    }

    /// Writes a file into the namespace's /etc (an overlay: the host's /etc is untouched).
    func put(_ text: String, at path: String, mode: String) throws {
        let source = dir + "/put-" + UUID().uuidString
        try text.write(toFile: source, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: source) }
        let r = try exec(["install", "-m", mode, "-o", "root", "-g", "sentinel", source, path])
        guard r.status == 0 else { throw Failure("install \(path): \(r.stderr)") }
    }

    /// /etc/sentinel/sentinel.kdl: one worker (a socket passed by systemd is shared by all of a
    /// generation's workers, which a debug build of NIO asserts against), routes /v1…/vN.
    func writeConfig(version: Int, broken: Bool = false) throws {
        let paths = ["/var/lib/sentinel/p", "/var/log/sentinel/p", "/run/sentinel/p", "/tmp/\(token)",
                     "/etc/sentinel/p", "/etc/open/p", "/var/open/p", "/usr/local/p", "/root/p"]
        let routes = (1...version).map { #"route "v\#($0)" { matches { path "/v\#($0)" }; builtin-handler "health" }"# }
        try put("""
            schema-version "1.0"
            system {
                worker-processes 1
                graceful-shutdown-timeout-secs 5
            }
            listeners { listener "http" { address "127.0.0.1:\(port)"; protocol "http"; } }
            routes {
                route "health" { matches { path "/health" }; builtin-handler "health"; }
                route "slow" { matches { path-prefix "/slow" }; upstream "slow"; }
                \(routes.joined(separator: "\n    "))
            }
            upstreams { upstream "slow" { target "127.0.0.1:\(upstream.port)"; } }
            agents {
                agent "probe" {
                    unix-socket "/run/sentinel/probe.sock"
                    command "/bin/sh" "/etc/sentinel/probe.sh" \(paths.map { "\"\($0)\"" }.joined(separator: " "))
                    restart-policy "never"
                }
            }
            \(broken ? "bogus-section { }" : "")
            """, at: "/etc/sentinel/sentinel.kdl", mode: "0640")
    }

    func journalText() -> String {
        (try? sd(["journal", "-b", "-o", "cat"]).stdout) ?? ""
    }

    /// What the service's own processes wrote (not systemd's messages about it).
    func serviceLines() -> [String] {
        let text = (try? sd(["journal", "-o", "cat", "_SYSTEMD_UNIT=sentinel-stack.service"]).stdout) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    func events(_ event: String) -> [String] {
        serviceLines().filter { $0.contains(#""event":"\#(event)""#) }
    }

    func wait(timeout: Duration = .seconds(20), _ condition: () -> Bool) -> Bool {
        pollUntil(timeout: timeout, every: .milliseconds(100), condition)
    }

    func down() {
        if let j = try? sd(["journal", "-b", "-o", "short-precise"]).stdout {
            try? j.write(toFile: NSTemporaryDirectory() + "sd-ns-last-journal.txt", atomically: true, encoding: .utf8)
        }
        _ = try? sd(["down"])
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// Runs `path args…` with `env` added to this process's environment, through posix_spawn and
/// waitpid on its pid. Output goes through files: a background process the command leaves (the
/// namespace's PID 1) must not hold a pipe this call reads to EOF. A command still running after
/// `timeout` is killed and reported.
func shell(_ path: String, _ args: [String], env: [String: String] = [:], timeout: Duration = .seconds(90)) throws -> ProcessResult {
    let base = NSTemporaryDirectory() + "shell-" + UUID().uuidString
    defer {
        unlink(base + ".out")
        unlink(base + ".err")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    let argv = ([path] + args).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    let end = ContinuousClock.now + timeout
    var status: Int32 = 0
    var timedOut = false
    while waitpid(pid, &status, WNOHANG) == 0 {
        if ContinuousClock.now >= end {
            timedOut = true
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            break
        }
        usleep(5_000)
    }
    let code: Int32 = timedOut ? -1 : ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
    let o = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
    let e = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
    return ProcessResult(status: code, stdout: o, stderr: timedOut ? "timed out after \(timeout): \(args)\n" + e : e)
}

extension StringProtocol {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
