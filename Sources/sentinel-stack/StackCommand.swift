import ArgumentParser
import SentinelConfig
import SentinelMaster
import SentinelObservability
import SentinelRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `sentinel-stack`: the master process that runs worker processes and supervised agents.
@main
struct StackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel-stack",
        abstract: "Sentinel's process manager: master, worker processes and agents.",
        discussion: """
            `up` runs the master: it validates the configuration, binds every listener, starts \
            `system { worker-processes }` workers on those sockets and keeps them running. \
            Signals to the master: HUP reloads (a new generation of workers on the same \
            sockets; the old one drains once the new one is ready), TERM/INT/QUIT stop \
            gracefully (a second one stops at once), USR1 reopens logs.

            Every command takes the same --config FILE as `up` (default: $SENTINEL_CONFIG, else \
            the built-in configuration): the other commands find the running master through a \
            control socket in its runtime directory (`system { runtime-directory }`, else \
            $RUNTIME_DIRECTORY, else a directory named after the file's path; /run/sentinel, \
            the systemd unit's, is tried last). See docs/stack.md.
            """,
        version: "sentinel-stack \(SentinelVersion.full)",
        subcommands: [Up.self, Reload.self, Status.self, Stop.self, Check.self, WorkerRole.self, ExecAs.self, GuardRole.self]
    )
}

/// The `--config` option every subcommand shares.
struct StackConfigOption: ParsableArguments {
    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Configuration file (KDL). Defaults to $SENTINEL_CONFIG, else the built-in default configuration.", valueName: "file"))
    var config: String?

    /// `--config`, else `$SENTINEL_CONFIG`, else the built-in default: the same rule for `up`,
    /// `check` and the commands that talk to a running master.
    var source: ConfigSource { ConfigSource.resolve(flag: config, environment: currentEnvironment()) }

    /// The control socket of the master running this configuration: in its runtime directory
    /// (`RuntimeDirectory`). When that directory is only the derived default and holds no master,
    /// the shipped systemd unit's /run/sentinel is tried too (an operator's shell has no
    /// `$RUNTIME_DIRECTORY`), provided the master there runs this same configuration.
    func controlSocket() -> String {
        let source = self.source
        let dir = RuntimeDirectory.resolve(source: source, environment: currentEnvironment())
        guard dir.origin == .derived, access(dir.socketPath, F_OK) != 0 else { return dir.socketPath }
        let unit = RuntimeDirectory(path: RuntimeDirectory.systemdDefault).socketPath
        var config: String?
        try? ControlClient.send(.status, socketPath: unit) { config = FlatJSON.fields($0)["config"] }
        guard let config, Self.same(config, source) else { return dir.socketPath }
        return unit
    }

    /// Whether a master reporting `config` runs `source`.
    static func same(_ config: String, _ source: ConfigSource) -> Bool {
        guard case .file(let path) = source else { return config == source.description }
        if config == path { return true }
        guard let a = RuntimeDirectory.realPath(config), let b = RuntimeDirectory.realPath(path) else { return false }
        return a == b
    }
}

/// `sentinel-stack check`: the same validation as `sentinel test`.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file and exit (0: valid, 1: invalid)."
    )

    @OptionGroup var options: StackConfigOption

    func run() throws {
        let source = options.source
        switch source.load(host: .stack) {
        case .success(let loaded):
            for w in loaded.warnings { emit(w.description + "\n", fd: 2) }
            // `up` expands agents' ${VAR} from its environment; check with the same rule.
            if case .failure(let error) = AgentSpec.all(in: loaded.config, environment: currentEnvironment()) {
                emit("sentinel-stack: \(error)\n", fd: 2)
                emit("sentinel-stack: configuration file \(source) test failed\n", fd: 2)
                throw ExitCode(1)
            }
            // The log files the workers open at start (as `sentinel test`).
            let logs = FileChecks.logFiles(loaded.config)
            if logs.failures > 0 {
                for line in logs.lines where line.hasPrefix("✗") { emit("sentinel-stack: \(line.dropFirst(2))\n", fd: 2) }
                emit("sentinel-stack: configuration file \(source) test failed\n", fd: 2)
                throw ExitCode(1)
            }
            // The TLS files the workers read at start (as `sentinel test`).
            let tls = CertificateValidation.startProblems(loaded.config, now: Int64(time(nil)))
            for line in tls.warnings { emit("sentinel-stack: \(line)\n", fd: 2) }
            if !tls.errors.isEmpty {
                for line in tls.errors { emit("sentinel-stack: \(line)\n", fd: 2) }
                emit("sentinel-stack: configuration file \(source) test failed\n", fd: 2)
                throw ExitCode(1)
            }
            emit("sentinel-stack: \(ConfigSummary(loaded.config))\n", fd: 2)
            emit("sentinel-stack: configuration file \(source) test is successful\n", fd: 1)
        case .failure(let error):
            emit(error.rendered() + "\n", fd: 2)
            emit("sentinel-stack: configuration file \(source) test failed\n", fd: 2)
            throw ExitCode(1)
        }
    }
}

func emit(_ text: String, fd: Int32) { writeAll(text, to: fd) }

func currentEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return result
}
