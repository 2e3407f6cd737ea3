import CSentinelGuard

#if canImport(Glibc)
import Glibc
#endif

/// What the master tells its guard process, one line each on the guard's socket (fd 3).
///
/// The guard (`sentinel-guard`, a C program next to `sentinel-stack`; CSentinelGuard) is a small
/// single-threaded sibling of the master's children. It only listens: the master registers every
/// worker and agent it spawns (`WATCH`) and forgets each one it reaps (`FORGET`). When the master
/// exits normally it sends `DISARM` first. When the guard reads EOF without `DISARM`, the master
/// died (SIGKILL, crash): the guard sends SIGTERM to every agent's process group at once, SIGKILLs
/// every group still there at its deadline, and exits. Workers are not sent SIGTERM (they drain by
/// themselves on EOF of their own control socket); they are SIGKILLed only if still running past theirs.
///
/// Why a sibling and not a parent shim per agent: the agent keeps being the master's direct
/// child, so its pid (in `status`, in signals to its process group, in `waitpid`) is the pid
/// the master tracks, and the exit status the master sees is the agent's own. Why not
/// PR_SET_PDEATHSIG: it fires when the spawning *thread* exits, and the master spawns from
/// Swift concurrency's pool threads, which come and go (FINDINGS.md); it also reaches only the
/// agent process, not its process group, and cannot escalate from TERM to KILL.
/// Why C: a Swift process maps and relocates the runtime and this whole binary (about 20 MiB
/// resident); the guard needs read(2), kill(2) and /proc, about 1 MiB.
public enum GuardMessage: Sendable, Equatable {
    /// Watch `pid` (a process group leader) whose /proc start time is `startTime`; on master
    /// death send SIGTERM to its group at once when `term`, SIGKILL it after `killAfter`.
    case watch(pid: Int32, startTime: String, term: Bool, killAfter: Duration)
    case forget(pid: Int32)
    /// The master exits normally: EOF then means nothing.
    case disarm

    public var line: String {
        switch self {
        case .watch(let pid, let start, let term, let after):
            let ms = after.components.seconds * 1000 + after.components.attoseconds / 1_000_000_000_000_000
            return "WATCH \(pid) \(start) \(term ? "term" : "kill") \(ms)\n"
        case .forget(let pid): return "FORGET \(pid)\n"
        case .disarm: return "DISARM\n"
        }
    }

    /// A line as the guard reads it (its own parser, `sentinel_guard_parse`); nil when it would
    /// ignore the line.
    public init?(line: Substring) {
        var m = sentinel_guard_message()
        let kind = Array(line.utf8).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { sentinel_guard_parse($0.baseAddress, $0.count, &m) }
        }
        switch kind {
        case SENTINEL_GUARD_WATCH:
            let start = withUnsafeBytes(of: m.start) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            self = .watch(pid: m.pid, startTime: start, term: m.term, killAfter: .milliseconds(m.kill_after_ms))
        case SENTINEL_GUARD_FORGET: self = .forget(pid: m.pid)
        case SENTINEL_GUARD_DISARM: self = .disarm
        default: return nil
        }
    }
}

/// The guard's loop (`sentinel-stack guard`, when no `sentinel-guard` is installed beside this
/// binary): the same C code as `sentinel-guard`, run in this (larger) process.
public enum OrphanGuard {
    public static func run(fd: Int32) -> Int32 { sentinel_guard_run(fd) }
}

/// The master's end of the guard's socket. Writes only; owned by the master loop.
final class GuardLink {
    let pid: Int32
    private let fd: Int32

    init(pid: Int32, fd: Int32) {
        self.pid = pid
        self.fd = fd
    }

    deinit { close(fd) }

    func send(_ message: GuardMessage) {
        sendAll(message.line, on: fd)
    }

    /// Sends DISARM and EOF, then waits until the guard has exited and is reaped (by this call or
    /// by the SIGCHLD handler), at most `timeout`.
    func disarmAndWait(timeout: Duration) {
        send(.disarm)
        shutdown(fd, Int32(SHUT_WR))
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) { return }
            usleep(2_000)  // bounded: the guard exits as soon as it reads EOF
        }
    }

    /// Spawns `executable guardArguments…` with the read end of a fresh socketpair as fd 3.
    static func spawn(executable: String, arguments: [String]) throws(Spawner.Failure) -> GuardLink {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw Spawner.Failure(description: "socketpair: \(errorText())")
        }
        defer { close(pair[1]) }
        do {
            let pid = try Spawner.spawn(
                executable: executable, arguments: arguments, environment: Spawner.workerEnvironment(adding: [:]), fds: [pair[1]])
            // The guard only reads; the master only writes.
            shutdown(pair[0], Int32(SHUT_RD))
            return GuardLink(pid: pid, fd: pair[0])
        } catch {
            close(pair[0])
            throw error
        }
    }
}
