import ArgumentParser
import SentinelConfig
import SentinelMaster

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

            Every command takes the same --config FILE as `up`: the other commands find the \
            running master through a control socket in the runtime directory derived from it \
            (`system { runtime-directory }`, else a directory named after the file's path). \
            See docs/stack.md.
            """,
        version: "sentinel-stack \(SentinelVersion.full)",
        subcommands: [Up.self, Reload.self, Status.self, Stop.self, Check.self, WorkerRole.self, ExecAs.self, GuardRole.self]
    )
}

/// The `--config` option every subcommand shares.
struct StackConfigOption: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp("Configuration file (KDL). Defaults to $SENTINEL_CONFIG.", valueName: "file"))
    var config: String?

    var source: ConfigSource { ConfigSource.resolve(flag: config, environment: currentEnvironment()) }

    /// The file a master runs from: `up`, `reload`, `status` and `stop` need one (the master
    /// re-reads it on reload, and the runtime directory is derived from it).
    func file() throws -> String {
        guard case .file(let path) = source else {
            emit("sentinel-stack: --config FILE (or SENTINEL_CONFIG) is required\n", fd: 2)
            throw ExitCode(2)
        }
        return path
    }

    func runtimeDirectory() throws -> RuntimeDirectory {
        RuntimeDirectory.resolve(configPath: try file(), environment: currentEnvironment())
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
