import ArgumentParser
import SentinelConfig
import SentinelObservability

#if canImport(Glibc)
import Glibc
#endif

/// `sentinel`: the proxy in a single process, plus configuration checks.
@main
struct SentinelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel",
        abstract: "Sentinel: a security-first HTTP reverse proxy.",
        discussion: """
            With no subcommand, Sentinel runs the proxy in this process (like `sentinel run`). \
            The configuration comes from --config FILE, else the SENTINEL_CONFIG environment \
            variable, else the built-in default (config/sentinel.kdl: a welcome page plus \
            health, status and metrics endpoints on 127.0.0.1:8080).

            Examples:
              sentinel                               run on the built-in default
              sentinel --config /etc/sentinel/sentinel.kdl
              sentinel test --config sentinel.kdl    check a configuration (like nginx -t)
              sentinel validate -c sentinel.kdl      also check that certificate files load

            For several worker processes, zero-downtime reloads and agent supervision, \
            use `sentinel-stack up --config FILE`.
            """,
        version: "sentinel \(SentinelVersion.full)",
        subcommands: [Run.self, Test.self, Validate.self],
        defaultSubcommand: Run.self
    )
}

/// The `--config` option every subcommand shares.
struct ConfigOptions: ParsableArguments {
    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "Configuration file (KDL). Defaults to $SENTINEL_CONFIG, then the built-in default.",
            valueName: "file"))
    var config: String?

    var source: ConfigSource {
        ConfigSource.resolve(flag: config, environment: Environment.current)
    }
}

enum Environment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                result[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return result
    }
}

/// Line output on the standard streams, written with write(2) so no shared C `FILE` is touched.
enum Console {
    static func error(_ text: String) { emit(text + "\n", fd: 2) }

    static func out(_ text: String) { emit(text + "\n", fd: 1) }

    static func emit(_ text: String, fd: Int32) { writeAll(text, to: fd) }
}

/// Loads and checks a configuration, printing the verdict the way `nginx -t` does.
enum ConfigCheck {
    /// `run`, then the log files the data plane opens at start (as `nginx -t` opens its logs):
    /// nil after printing every problem.
    static func runWithLogFiles(_ source: ConfigSource, program: String) -> ConfigLoader.Loaded? {
        guard let loaded = run(source, program: program) else { return nil }
        let logs = FileChecks.logFiles(loaded.config)
        guard logs.failures == 0 else {
            for line in logs.lines where line.hasPrefix("✗") { Console.error("\(program): " + line.dropFirst(2)) }
            Console.error("\(program): configuration file \(source) test failed")
            return nil
        }
        return loaded
    }

    /// Returns the loaded configuration, or nil after printing every diagnostic.
    static func run(_ source: ConfigSource, program: String, quietOnSuccess: Bool = false) -> ConfigLoader.Loaded? {
        switch source.load() {
        case .success(let loaded):
            for w in loaded.warnings { Console.error(w.description) }
            if !quietOnSuccess {
                Console.error("\(program): \(ConfigSummary(loaded.config))")
            }
            return loaded
        case .failure(let error):
            Console.error(error.rendered())
            Console.error("\(program): configuration file \(source) test failed")
            return nil
        }
    }
}
