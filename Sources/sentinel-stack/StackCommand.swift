import ArgumentParser
import SentinelConfig

#if canImport(Glibc)
import Glibc
#endif

/// `sentinel-stack`: the master process that will run worker processes and agents.
@main
struct StackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel-stack",
        abstract: "Sentinel's process manager: master, worker processes and agents.",
        discussion: """
            Every command takes the same --config FILE as `up`, so that commands find the
            instance that configuration belongs to.

            This build provides `check`. The master (`up`, `reload`, `status`, `stop`) is not
            built yet: run the proxy in one process with `sentinel --config FILE` meanwhile.
            """,
        version: "sentinel-stack \(SentinelVersion.full)",
        subcommands: [Check.self]
    )
}

/// `sentinel-stack check`: the same validation as `sentinel test`.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file and exit (0: valid, 1: invalid)."
    )

    @Option(name: [.short, .long], help: ArgumentHelp("Configuration file (KDL). Defaults to $SENTINEL_CONFIG.", valueName: "file"))
    var config: String?

    func run() throws {
        var env: [String: String] = [:]
        if let v = getenv("SENTINEL_CONFIG") { env["SENTINEL_CONFIG"] = String(cString: v) }
        let source = ConfigSource.resolve(flag: config, environment: env)
        switch source.load() {
        case .success(let loaded):
            for w in loaded.warnings { emit(w.description + "\n", fd: 2) }
            emit("sentinel-stack: \(ConfigSummary(loaded.config))\n", fd: 2)
            emit("sentinel-stack: configuration file \(source) test is successful\n", fd: 1)
        case .failure(let error):
            emit(error.rendered() + "\n", fd: 2)
            emit("sentinel-stack: configuration file \(source) test failed\n", fd: 2)
            throw ExitCode(1)
        }
    }
}

func emit(_ text: String, fd: Int32) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return }
        bytes = bytes.dropFirst(n)
    }
}
