import CSentinelLinux

#if canImport(Glibc)
import Glibc
#endif

/// Starts a child with `posix_spawn`, handing it exactly the given fds at 3, 4, ….
///
/// Spawn, never fork: the master is multi-threaded (Dispatch, Swift concurrency), and a forked
/// child keeps only the calling thread. The child gets an empty signal mask and default
/// dispositions (Dispatch threads block almost every signal, and children inherit both), its own
/// process group (a terminal ^C reaches the master only), and every other fd closed: NIO's
/// sockets are not close-on-exec, so without close-from each worker would inherit every
/// connection of the master.
public enum Spawner {
    /// What every child (worker, agent, guard) starts with: an empty signal mask, every catchable
    /// signal at its default disposition (the master's handlers and blocks are not inherited),
    /// and a process group of its own.
    static func prepareChildAttributes(_ attr: inout posix_spawnattr_t) {
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in 1..<32 where sig != SIGKILL && sig != SIGSTOP { sigaddset(&defaults, Int32(sig)) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// `arguments` starts with argv[0] (what `ps` shows), which need not be `executable`.
    public static func spawn(
        executable: String, arguments: [String], environment: [String], fds: [Int32]
    ) throws(Failure) -> Int32 {
        // Move the sources above every target first, so no dup2 overwrites a later source.
        var temps: [Int32] = []
        defer { for t in temps { close(t) } }
        for fd in fds {
            let t = fcntl(fd, F_DUPFD_CLOEXEC, 100)
            guard t >= 0 else { throw Failure(description: "dup of fd \(fd): \(errorText())") }
            temps.append(t)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (i, t) in temps.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, t, Int32(3 + i))
        }
        let rc = sentinel_spawn_addclosefrom(&actions, Int32(3 + temps.count))
        guard rc == 0 else { throw Failure(description: "closefrom: \(errorText(rc))") }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        Spawner.prepareChildAttributes(&attr)

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        guard status == 0 else { throw Failure(description: "posix_spawn \(executable): \(errorText(status))") }
        return pid
    }

    public static let procSelfExe = "/proc/self/exe"

    /// The file this process runs, by its real path when that path still names the same file
    /// (device and inode), so children appear as `sentinel-stack` in `ps` and in systemd's
    /// messages instead of `exe`; `/proc/self/exe` when the file was replaced or removed since
    /// this process started: children must run this very build (the control protocol is not
    /// versioned), which `/proc/self/exe` still opens.
    public static func selfExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(procSelfExe, &buffer, buffer.count - 1)
        guard n > 0 else { return procSelfExe }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var running = stat()
        var named = stat()
        guard path.hasPrefix("/"), stat(procSelfExe, &running) == 0, stat(path, &named) == 0,
              running.st_dev == named.st_dev, running.st_ino == named.st_ino
        else { return procSelfExe }
        return path
    }

    /// Names this process (`/proc/self/comm`: what `ps`, `top` and systemd's messages show) after
    /// its role, e.g. `sentinel-worker`; at most 15 bytes are kept. Written to the thread group's
    /// leader, whichever thread runs this.
    public static func nameProcess(_ name: String) {
        let fd = open("/proc/self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// This process's environment minus what belongs to the master alone: systemd's notify
    /// socket (only the main pid may notify), socket activation and watchdog variables.
    public static func workerEnvironment(adding extra: [String: String]) -> [String] {
        var result: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            let name = s.prefix { $0 != "=" }
            let dropped = name == "NOTIFY_SOCKET" || name.hasPrefix("LISTEN_") || name.hasPrefix("WATCHDOG_")
                || name.hasPrefix("SENTINEL_STACK_")
            if !dropped { result.append(s) }
            p += 1
        }
        for key in extra.keys.sorted() { result.append("\(key)=\(extra[key]!)") }
        return result
    }
}
