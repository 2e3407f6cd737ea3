#if canImport(Glibc)
import Glibc
#endif

/// What a worker inherits from its master, read from fds 3.. and SENTINEL_STACK_* variables.
///
/// fd 3 is the control socket, fd 4 the sealed configuration memfd, fds 5… the listening sockets
/// in the order of SENTINEL_STACK_LISTENERS, then the rate-limit region's memory file (its fd in
/// SENTINEL_STACK_RATELIMIT_FD; `RateLimitRegion`). Sentinel's own variables, not systemd's LISTEN_FDS:
/// those belong to systemd, and a child's pid (LISTEN_PID) is unknown before it is spawned.
public struct WorkerHandover: Sendable {
    public static let controlFD: Int32 = 3
    public static let configFD: Int32 = 4
    public static let firstListenerFD: Int32 = 5

    public var generation: Int
    public var slot: Int
    /// The file the master loaded (for messages only; the text comes from the memfd).
    public var configPath: String
    public var listeners: [(address: ListenAddress, fd: Int32)]
    /// Worker processes in the generation (to size each worker's event loops).
    public var workers: Int
    /// Fixed for the master's life and equal in every worker: the instance id the `status`
    /// builtin shows, and the key that signs sticky cookies (a per-worker key would break
    /// affinity whenever a client's next connection lands on another worker).
    public var instanceID: String
    public var stickyKey: [UInt8]
    /// The inherited memory file of the instance's shared rate-limit buckets; nil when the
    /// master could not make one.
    public var rateLimitFD: Int32?

    /// Values the master makes once and gives every worker of every generation.
    public struct Instance: Sendable {
        public var id: String
        public var stickyKey: [UInt8]

        /// A fresh instance id, and the sticky-cookie key kept in `directory/sticky.key` (0600):
        /// created on the first `up`, reused by later masters of the same configuration, so
        /// affinity cookies survive restarts as well as reloads. Falls back to a random key when
        /// the file cannot be read or written (affinity then lasts for this master's life).
        public static func persistent(in directory: String) -> Instance {
            var instance = random()
            let path = directory + "/sticky.key"
            if let existing = readKey(path) {
                instance.stickyKey = existing
            } else {
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                if fd >= 0 {
                    let text = hex(instance.stickyKey) + "\n"
                    _ = text.withCString { write(fd, $0, strlen($0)) }
                    close(fd)
                } else if let raced = readKey(path) {
                    instance.stickyKey = raced
                }
            }
            return instance
        }

        /// The key in `path`, if it is a regular file only its owner can read, holding 32 hex bytes.
        static func readKey(_ path: String) -> [UInt8]? {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_mode & 0o077 == 0, st.st_uid == geteuid()
            else { return nil }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 128)
            let n = read(fd, &buffer, buffer.count)
            guard n >= 64 else { return nil }
            let key = unhex(String(decoding: buffer[0..<64], as: UTF8.self))
            return key.count == 32 ? key : nil
        }

        public static func random() -> Instance {
            var rng = SystemRandomNumberGenerator()
            let id = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
            let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
            return Instance(id: hex(id), stickyKey: key)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    static func unhex(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).compactMap { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16) }
    }

    /// The environment the master gives a worker (see `Spawner.workerEnvironment`).
    static func environment(
        generation: Int, slot: Int, workers: Int, configPath: String, addresses: [ListenAddress], instance: Instance,
        rateLimitFD: Int32? = nil
    ) -> [String: String] {
        var env = [
            "SENTINEL_STACK_WORKERS": String(workers),
            "SENTINEL_STACK_INSTANCE_ID": instance.id,
            "SENTINEL_STACK_STICKY_KEY": hex(instance.stickyKey),
            "SENTINEL_STACK_GENERATION": String(generation),
            "SENTINEL_STACK_SLOT": String(slot),
            "SENTINEL_STACK_CONFIG_PATH": configPath,
            "SENTINEL_STACK_LISTENERS": addresses.map(\.wire).joined(separator: ","),
        ]
        if let rateLimitFD { env["SENTINEL_STACK_RATELIMIT_FD"] = String(rateLimitFD) }
        return env
    }

    public static func fromEnvironment() throws(ControlError) -> WorkerHandover {
        func value(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        guard let g = value("SENTINEL_STACK_GENERATION").flatMap(Int.init), let s = value("SENTINEL_STACK_SLOT").flatMap(Int.init),
              let list = value("SENTINEL_STACK_LISTENERS")
        else {
            throw ControlError("the worker role is started by `sentinel-stack up`, not by hand")
        }
        var listeners: [(ListenAddress, Int32)] = []
        for (i, item) in list.split(separator: ",").enumerated() {
            guard let address = ListenAddress(item) else { throw ControlError("bad SENTINEL_STACK_LISTENERS entry \(item)") }
            let fd = firstListenerFD + Int32(i)
            guard fcntl(fd, F_GETFD) >= 0 else { throw ControlError("listener fd \(fd) for \(address) was not inherited") }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            listeners.append((address, fd))
        }
        _ = fcntl(controlFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(configFD, F_SETFD, FD_CLOEXEC)
        let rateLimitFD = value("SENTINEL_STACK_RATELIMIT_FD").flatMap(Int32.init)
        if let rateLimitFD {
            guard fcntl(rateLimitFD, F_SETFD, FD_CLOEXEC) >= 0 else { throw ControlError("rate-limit fd \(rateLimitFD) was not inherited") }
        }
        var handover = WorkerHandover(
            generation: g, slot: s, configPath: value("SENTINEL_STACK_CONFIG_PATH") ?? "<config>", listeners: listeners,
            workers: value("SENTINEL_STACK_WORKERS").flatMap(Int.init) ?? 1, instanceID: value("SENTINEL_STACK_INSTANCE_ID") ?? "",
            stickyKey: unhex(value("SENTINEL_STACK_STICKY_KEY") ?? ""))
        handover.rateLimitFD = rateLimitFD
        return handover
    }

    /// Tells the master why this worker cannot start (`FAILED <reason>` on the control socket),
    /// so the verdict of `up` or `reload` names the cause instead of an exit status. Returns false
    /// when there is no master to tell (the role was started by hand: fd 3 is not a control
    /// socket, and nothing is written to it); the caller then logs the reason itself.
    @discardableResult
    public static func reportFailure(_ reason: String) -> Bool {
        guard getenv("SENTINEL_STACK_GENERATION") != nil else { return false }
        var st = stat()
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard fstat(controlFD, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK,
              getsockopt(controlFD, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue)
        else { return false }
        return sendAll(WorkerMessage.failed(reason).line, on: controlFD)
    }

    /// The inherited socket listening on `host:port`, if the master bound one.
    public func fd(host: String, port: Int) -> Int32? {
        fds(host: host, port: port).first
    }

    /// Every inherited socket listening on `host:port`: the slot's own, then those a generation
    /// with more workers left behind (`ListenerTable.listeners`).
    public func fds(host: String, port: Int) -> [Int32] {
        listeners.filter { $0.address == ListenAddress(host: host, port: port) }.map(\.fd)
    }

    public func readConfig() throws(ConfigHandover.Failure) -> String {
        try ConfigHandover.read(fd: Self.configFD)
    }
}
