import ArgumentParser
import SentinelConfig

/// `sentinel test`: parse and validate, print every problem, exit 0 or 1.
struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file and exit (0: valid, 1: invalid).",
        discussion: """
            Reads the configuration and its includes, checks every setting, reference and \
            limit, and prints every problem found as FILE:LINE:COL with a hint. Also checks \
            that the log files can be opened for writing (their directories exist). Nothing \
            is started and no port is bound.
            """
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let source = options.source
        guard ConfigCheck.runWithLogFiles(source, program: "sentinel") != nil else { throw ExitCode(1) }
        Console.out("sentinel: configuration file \(source) test is successful")
    }
}
