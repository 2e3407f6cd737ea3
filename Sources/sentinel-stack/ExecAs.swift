import ArgumentParser
import SentinelMaster

#if canImport(Glibc)
import Glibc
#endif

/// `sentinel-stack exec-as USER UID GID PROGRAM -- ARGV…`: the hidden trampoline the master starts
/// workers and agents through when `system { user }` is set.
///
/// posix_spawn cannot change credentials between fork and exec, and the master must stay
/// privileged. Dropping inside the worker role is not enough either: Swift's async `main` parks
/// the process's main thread in `dispatch_main` (inside `pthread_exit`), glibc's setuid broadcast
/// skips that exiting thread, and it would keep root's credentials for the life of the worker. So
/// this process (already the child's pid, with its fds, environment and working directory) drops
/// to the user and then execs PROGRAM: exec leaves only the calling thread, with the dropped
/// credentials, so nothing of root survives into the worker or agent. If the drop fails it exits
/// 126 without running anything.
struct ExecAs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec-as", abstract: "Internal: run a worker or agent after dropping privileges.", shouldDisplay: false)

    @Argument var user: String
    @Argument var uid: UInt32
    @Argument var gid: UInt32
    @Argument var program: String
    @Argument(parsing: .postTerminator) var arguments: [String]

    func run() throws {
        do {
            try PrivilegeDrop(user: user, uid: uid, gid: gid).apply()
        } catch {
            // A worker's reason goes to the master (the verdict names it); an agent's to stderr,
            // which the master logs as the agent's output.
            let reason = "refusing to start \(program): cannot drop privileges to \(user): \(error)"
            if !WorkerHandover.reportFailure(reason) { emit("sentinel-stack exec-as: \(reason)\n", fd: 2) }
            throw ExitCode(126)
        }
        // This thread blocks every signal (Dispatch threads do); the program must not inherit that.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        let argv = (arguments.isEmpty ? [program] : arguments).map { strdup($0) } + [nil]
        if program.contains("/") { execv(program, argv) } else { execvp(program, argv) }
        let reason = "cannot execute \(program): \(String(cString: strerror(errno)))"
        if !WorkerHandover.reportFailure(reason) { emit("sentinel-stack exec-as: \(reason)\n", fd: 2) }
        throw ExitCode(127)
    }
}
