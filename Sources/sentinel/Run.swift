import ArgumentParser
import SentinelConfig

/// `sentinel run` (the default): the proxy in this process.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the proxy in this process (the default command).",
        discussion: """
            Loads and checks the configuration, binds every listener and serves until \
            SIGTERM or SIGINT (graceful stop: in-flight requests finish, up to \
            graceful-shutdown-timeout-secs; exit 0, or 1 if requests had to be cut off). \
            SIGHUP reloads the configuration: a bad one changes nothing and is logged.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Flag(name: [.short, .long], help: "Check the configuration and exit (same as `sentinel test`).")
    var test = false

    func run() async throws {
        let source = options.source
        if test {
            guard ConfigCheck.runWithLogFiles(source, program: "sentinel") != nil else { throw ExitCode(1) }
            Console.out("sentinel: configuration file \(source) test is successful")
            return
        }
        guard let loaded = ConfigCheck.run(source, program: "sentinel", quietOnSuccess: true) else { throw ExitCode(1) }
        do {
            try await SingleProcess(source: source, initial: loaded.config).run()
        } catch let e as ExitCodeError {
            throw ExitCode(e.code)
        }
    }
}
