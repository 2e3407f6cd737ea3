#if canImport(Glibc)
import Glibc
import Logging
import SentinelObservability
#endif

/// The I/O part of the orphan guard (see `GuardMessage`): the master starts one guard process,
/// registers every worker and agent it spawns, forgets every one it reaps, disarms it on a
/// normal exit, and starts a new one (re-registering everything) if it dies.
extension Runner {
    /// Starts the guard and registers every process this master runs now.
    mutating func startGuard() {
        guard let (program, arguments) = guardCommand else { return }
        do {
            let link = try GuardLink.spawn(executable: program, arguments: arguments)
            guardLink = link
            guardStartedAt = now
            log.emit("info", "guard_started", ["guard_pid": .int(link.pid), "program": .string(program)])
        } catch {
            log.emit("error", "guard_spawn_failed", ["reason": .string(error.description)])
            return
        }
        for g in state.generations {
            for pid in g.pids { watchWorker(pid, drainTimeout: g.drainTimeout) }
        }
        for name in agents.state.order {
            if let a = agents.state.agents[name], let pid = a.pid { watchAgent(pid, stopTimeout: a.spec.stopTimeout) }
        }
    }

    /// `sentinel-guard` beside the running binary (the C program: about 1 MiB resident), else this
    /// binary's `guard` role (the same code in a full Swift process); nil: no guard.
    var guardCommand: (String, [String])? {
        guard let fallback = options.guardArguments else { return nil }
        let binary = executable
        if binary != Spawner.procSelfExe, let slash = binary.lastIndex(of: "/") {
            let slim = String(binary[...slash]) + Self.guardProgram
            if access(slim, X_OK) == 0 { return (slim, [Self.guardProgram]) }
        }
        return (binary, fallback)
    }

    static let guardProgram = "sentinel-guard"

    /// Workers drain by themselves when the master is gone (EOF on their control socket); the guard
    /// SIGKILLs one still running a second past the drain deadline.
    func watchWorker(_ pid: Int32, drainTimeout: Duration) {
        guard let link = guardLink, let start = AgentPidFile.startTime(pid) else { return }
        link.send(.watch(pid: pid, startTime: start, term: false, killAfter: drainTimeout + .seconds(1)))
    }

    /// An agent gets SIGTERM as soon as the master is gone, SIGKILL after its stop timeout, but
    /// never later than the drain deadline.
    func watchAgent(_ pid: Int32, stopTimeout: Duration) {
        guard let link = guardLink, let start = AgentPidFile.startTime(pid) else { return }
        link.send(.watch(pid: pid, startTime: start, term: true, killAfter: min(stopTimeout, drainTimeout)))
    }

    func forgetChild(_ pid: Int32) { guardLink?.send(.forget(pid: pid)) }

    /// Returns true when `pid` was the guard: logged, and a new one is started (at once after a
    /// guard that ran for a while, else after a second, so a guard that cannot start never spins).
    mutating func guardExited(pid: Int32, status: ExitStatus) -> Bool {
        guard let link = guardLink, link.pid == pid else { return false }
        guardLink = nil
        log.emit("warn", "guard_exited", ["guard_pid": .int(pid), "status": .string(status.description)])
        guard state.phase != .stopping else { return true }
        if now - guardStartedAt >= .seconds(1) {
            startGuard()
        } else {
            let continuation = self.continuation
            Task {
                try? await Task.sleep(for: .seconds(1))
                continuation.yield(.restartGuard)
            }
        }
        return true
    }

    /// The master exits normally: EOF on the guard's socket must not look like a death. The guard
    /// exits at that EOF; the master waits for it (at most `guardExitWait`), so it never outlives
    /// the master (systemd SIGKILLs, and logs, whatever is left in the unit when the main process
    /// exits).
    func disarmGuard() { guardLink?.disarmAndWait(timeout: Self.guardExitWait) }

    static let guardExitWait: Duration = .seconds(2)
}
