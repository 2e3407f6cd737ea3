import SentinelObservability
#if canImport(Glibc)
import Glibc
#endif

/// The agents a master runs, recorded in its runtime directory (`agents.pids`), so that the next
/// `up` for the same configuration can stop those a dead master left behind.
///
/// Workers notice their master's death (EOF on their control socket); agents are arbitrary
/// programs with no such link, and PR_SET_PDEATHSIG is tied to the spawning thread, which in a
/// Swift process may be any pool thread that later exits. So a master that is SIGKILLed or crashes
/// leaves its agents running (under systemd, KillMode= cleans the cgroup; elsewhere nothing does).
/// Each line is `pid starttime name`: the process start time (from /proc/PID/stat) tells a
/// recycled pid apart, so an unrelated process is never signalled.
struct AgentPidFile {
    let path: String

    init(runtimeDirectory: String) { path = runtimeDirectory + "/agents.pids" }

    /// Rewrites the file with the agents running now.
    func record(_ agents: [(name: String, pid: Int32)]) {
        let lines = agents.compactMap { a in Self.startTime(a.pid).map { "\(a.pid) \($0) \(a.name)\n" } }.joined()
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        writeAll(lines, to: fd)
        close(fd)
        rename(tmp, path)
    }

    /// SIGTERMs the process group of every recorded agent that still runs (same pid, same start
    /// time); returns what it signalled, for the log. Removes the file.
    func stopLeftovers() -> [(name: String, pid: Int32)] {
        defer { unlink(path) }
        guard let text = Self.read(path) else { return [] }
        var stopped: [(String, Int32)] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count == 3, let pid = Int32(parts[0]), pid > 1, Self.startTime(pid) == String(parts[1]) else { continue }
            if kill(-pid, SIGTERM) != 0 { kill(pid, SIGTERM) }
            stopped.append((String(parts[2]), pid))
        }
        return stopped
    }

    /// Field 22 of /proc/PID/stat (start time in clock ticks since boot); nil when the pid is gone.
    static func startTime(_ pid: Int32) -> String? {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    static func read(_ path: String) -> String? {
        readWholeFile(path, limit: .max).map { String(decoding: $0, as: UTF8.self) }
    }
}
