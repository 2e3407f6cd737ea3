import Foundation
import Testing
import SentinelTestSupport

/// A worker that cannot start ends cleanly (no signal, no backtrace) and its own reason is the
/// verdict of `up` and of `reload`.
@Suite struct WorkerStartFailureTests {
    /// The default test configuration plus an access log at `path`.
    static func config(port: Int, dir: String, accessLog path: String) -> String {
        StackProcess.config(workers: 2, gracefulSecs: 5, port: port, dir: dir)
            + "\nobservability { logging { access-log { file \"\(path)\" } } }\n"
    }

    @Test func upFailsWithTheWorkersReasonWhenTheAccessLogCannotBeOpened() throws {
        let stack = try StackProcess { port, dir in Self.config(port: port, dir: dir, accessLog: dir + "/missing/access.log") }
        #expect(stack.exitStatus() == 1, "log: \(stack.text)")
        let failed = stack.events("generation_failed")
        #expect(failed.count == 1)
        #expect(failed.first?.contains("could not start: cannot open access log \(stack.dir)/missing/access.log: No such file or directory") == true,
                "\(failed)")
        #expect(stack.events("worker_failed").count >= 1)
        // Each worker exited with its own status, not a signal, and printed no crash report.
        let exits = stack.events("worker_exited")
        #expect(!exits.isEmpty && exits.allSatisfy { $0.contains(#""status":"exit 2""#) }, "\(exits)")
        #expect(!stack.text.contains("Backtracing") && !stack.text.contains("crashed"), "log: \(stack.text)")
        #expect(stack.events("stopped").count == 1)
    }

    @Test func reloadOntoAnUnopenableAccessLogFailsWithTheWorkersReasonAndTheOldGenerationServes() throws {
        let stack = try StackProcess()
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let pids = try stack.livePids()
        try Self.config(port: stack.port, dir: stack.dir, accessLog: stack.dir + "/missing/access.log")
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let r = try stack.stack("reload")
        #expect(r.status == 1)
        #expect(r.stderr.contains("reload failed: worker"), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("could not start: cannot open access log \(stack.dir)/missing/access.log"), "stderr: \(r.stderr)")
        #expect(try stack.livePids() == pids)
        #expect(try KeepAliveClient(port: stack.port).get("/health").status == 200)
        #expect(!stack.text.contains("Backtracing"), "log: \(stack.text)")
        #expect(stack.events("worker_exited").allSatisfy { !$0.contains("signal") })
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }
}
