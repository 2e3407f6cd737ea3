import CSentinelLinux
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The I/O half of agent supervision: spawning an agent with its output piped to the master, and
/// reading that output line by line.
///
/// Agents are spawned like workers (posix_spawn, empty signal mask, default dispositions, own
/// process group, every fd above 2 closed) but inherit no listener, memfd or control socket:
/// stdin is /dev/null, stdout and stderr are pipes the master reads, so an agent's output lands in
/// the master's JSON log with the agent's name instead of interleaving raw text with it.
public enum AgentProcess {
    public struct Spawned {
        public var pid: Int32
        /// Read ends of the agent's stdout and stderr (non-blocking, close-on-exec).
        public var stdout: Int32
        public var stderr: Int32
    }

    /// `baseEnvironment` is the master's environment with systemd's and Sentinel's own variables
    /// removed (`Spawner.workerEnvironment`); the spec's `env` entries replace same-named ones.
    /// `launcher`, when set, is the program and full argv that exec the command after a privilege
    /// drop (`sentinel-stack exec-as … -- command…`).
    public static func spawn(
        _ spec: AgentSpec, baseEnvironment: [String], launcher: (path: String, arguments: [String])? = nil
    ) throws(Spawner.Failure) -> Spawned {
        guard let program = spec.command.first else { throw Spawner.Failure(description: "empty command") }
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        // pipe2 is not imported; close-on-exec right after is enough: only this loop spawns,
        // and every spawn closes fds above 2 anyway.
        guard pipe(&out) == 0 else { throw Spawner.Failure(description: "pipe: \(errorText())") }
        guard pipe(&err) == 0 else {
            close(out[0]); close(out[1])
            throw Spawner.Failure(description: "pipe: \(errorText())")
        }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var ok = false
        defer {
            close(out[1]); close(err[1])
            if !ok { close(out[0]); close(err[0]) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        if let dir = spec.workingDirectory {
            let rc = sentinel_spawn_addchdir(&actions, dir)
            guard rc == 0 else { throw Spawner.Failure(description: "working-directory: \(errorText(rc))") }
        }
        let rc = sentinel_spawn_addclosefrom(&actions, 3)
        guard rc == 0 else { throw Spawner.Failure(description: "closefrom: \(errorText(rc))") }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Own process group: a terminal ^C reaches the master only, which stops agents after workers.
        Spawner.prepareChildAttributes(&attr)

        var environment = baseEnvironment
        let overridden = Set(spec.environment.map { $0.prefix { $0 != "=" } })
        environment.removeAll { overridden.contains($0.prefix { $0 != "=" }) }
        environment += spec.environment
        let arguments = launcher?.arguments ?? spec.command
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let status: Int32
        if let launcher {
            status = posix_spawn(&pid, launcher.path, &actions, &attr, argv, envp)
        } else if program.contains("/") {
            status = posix_spawn(&pid, program, &actions, &attr, argv, envp)
        } else {
            status = posix_spawnp(&pid, program, &actions, &attr, argv, envp)
        }
        guard status == 0 else { throw Spawner.Failure(description: "\(program): \(errorText(status))") }
        for fd in [out[0], err[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        ok = true
        return Spawned(pid: pid, stdout: out[0], stderr: err[0])
    }
}

/// Splits an agent's output into lines, bounding each one: a line longer than `limit` bytes is
/// cut there (reported as truncated) and the rest up to its newline is dropped, so an agent that
/// writes without newlines cannot grow the master's memory.
public struct OutputLines: Sendable {
    public static let defaultLimit = 16 * 1024
    public let limit: Int
    private var pending: [UInt8] = []
    private var discarding = false

    public init(limit: Int = OutputLines.defaultLimit) { self.limit = limit }

    /// The complete lines (without "\n" or a trailing "\r") these bytes finish.
    public mutating func append(_ bytes: some Sequence<UInt8>) -> [(line: String, truncated: Bool)] {
        pending.append(contentsOf: bytes)
        var lines: [(String, Bool)] = []
        while true {
            if let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                if !discarding {
                    var end = nl
                    if end > 0, pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                    lines.append((String(decoding: pending[..<end], as: UTF8.self), false))
                }
                discarding = false
                pending.removeSubrange(...nl)
            } else if pending.count >= limit || (discarding && !pending.isEmpty) {
                if !discarding { lines.append((String(decoding: pending[..<limit], as: UTF8.self), true)) }
                discarding = true
                pending.removeAll(keepingCapacity: true)
            } else {
                return lines
            }
        }
    }

    /// What is left at EOF: a last line without a newline.
    public mutating func finish() -> [(line: String, truncated: Bool)] {
        defer { pending = []; discarding = false }
        guard !pending.isEmpty, !discarding else { return [] }
        return [(String(decoding: pending, as: UTF8.self), false)]
    }
}

/// Reads one output pipe of an agent until EOF, handing each line to `onLine` (on the reader's
/// own queue; the runner forwards them to its loop, the single writer of the log) with the
/// reader's `OutputFlow`, which the loop releases once it wrote the line.
///
/// Bounded: at most `OutputFlow.highWater` lines (each at most `limit` bytes) are handed over
/// and not yet written; then the reader stops reading until the loop caught up to
/// `OutputFlow.lowWater`. The agent then blocks in write(2) on its full pipe, so an agent
/// flooding its output while the master's stderr is slow (a stalled journal, a terminal) cannot
/// grow the master's memory: the flood waits in the agent, not in the master.
/// `@unchecked`: the fd is immutable and a DispatchSource is thread-safe.
public final class AgentOutputReader: @unchecked Sendable {
    let source: any DispatchSourceRead
    public let flow: OutputFlow

    public init(
        fd: Int32, label: String, limit: Int = OutputLines.defaultLimit,
        onLine: @escaping @Sendable (String, Bool, OutputFlow) -> Void
    ) {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: label))
        self.source = source
        let flow = OutputFlow(source: source)
        self.flow = flow
        let state = OutputState(limit: limit)
        let box = OutputSourceBox(source: source)
        let handler: @Sendable () -> Void = {
            var chunk = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n < 0, errno == EAGAIN || errno == EWOULDBLOCK { return }
                guard n > 0 else {
                    for (line, truncated) in state.finish() {
                        onLine(line, truncated, flow)
                        _ = flow.handedOver()
                    }
                    box.source.cancel()
                    return
                }
                var paused = false
                for (line, truncated) in state.append(chunk[0..<n]) {
                    onLine(line, truncated, flow)
                    if flow.handedOver() { paused = true }
                }
                // Suspended: the rest stays in the pipe (and the agent blocks) until released.
                if paused { return }
            }
        }
        source.setEventHandler(handler: handler)
        source.setCancelHandler { close(fd) }
        source.resume()
    }

    public func cancel() { source.cancel() }
}

/// The number of lines a reader handed to the master's loop and the loop has not written yet;
/// suspends the reader's source at `highWater` and resumes it at `lowWater`. Suspension and
/// resumption happen under the lock, so they always pair up.
/// `@unchecked`: the source is immutable and thread-safe; the counters are behind a Mutex.
public final class OutputFlow: @unchecked Sendable {
    public static let highWater = 64
    public static let lowWater = 16
    private let source: any DispatchSourceRead
    private let state = Mutex((pending: 0, suspended: false))

    init(source: any DispatchSourceRead) { self.source = source }

    /// One more line handed over; true when the reader must stop reading now.
    func handedOver() -> Bool {
        state.withLock { s in
            s.pending += 1
            guard s.pending >= Self.highWater, !s.suspended else { return s.suspended }
            s.suspended = true
            source.suspend()
            return true
        }
    }

    /// The loop wrote one line (called from the master's loop).
    public func release() {
        state.withLock { s in
            s.pending = max(0, s.pending - 1)
            if s.suspended, s.pending <= Self.lowWater {
                s.suspended = false
                source.resume()
            }
        }
    }

    /// Lines handed over and not yet written (for tests).
    public var pending: Int { state.withLock { $0.pending } }

    deinit {
        // A suspended source must not be released: resume it (it is cancelled at EOF).
        state.withLock { s in if s.suspended { source.resume() } }
    }
}

private struct OutputSourceBox: @unchecked Sendable {
    let source: any DispatchSourceRead
}

/// The splitter of one reader, touched only on the reader's serial queue.
private final class OutputState: @unchecked Sendable {
    private var lines: OutputLines

    init(limit: Int) { lines = OutputLines(limit: limit) }

    func append(_ bytes: ArraySlice<UInt8>) -> [(line: String, truncated: Bool)] { lines.append(bytes) }
    func finish() -> [(line: String, truncated: Bool)] { lines.finish() }
}
