import ArgumentParser
import SentinelConfig
import SentinelRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `sentinel test`: parse and validate, print every problem, exit 0 or 1.
struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file and exit (0: valid, 1: invalid).",
        discussion: """
            Reads the configuration and its includes, checks every setting, reference and \
            limit, and prints every problem found as FILE:LINE:COL with a hint. Also checks \
            that the log files can be opened for writing (their directories exist) and that \
            the TLS files can be used as they would be at start: certificates, keys, client \
            CAs, CRLs and OCSP responses (`sentinel validate` lists every check). Nothing is \
            started and no port is bound.
            """
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let source = options.source
        guard let loaded = ConfigCheck.runWithLogFiles(source, program: "sentinel") else { throw ExitCode(1) }
        // The TLS files, as the snapshot would read them: only problems and warnings print.
        let tls = CertificateValidation.startProblems(loaded.config, now: Int64(time(nil)))
        for line in tls.warnings { Console.error("sentinel: " + line) }
        if !tls.errors.isEmpty {
            for line in tls.errors { Console.error("sentinel: " + line) }
            Console.error("sentinel: configuration file \(source) test failed")
            throw ExitCode(1)
        }
        Console.out("sentinel: configuration file \(source) test is successful")
    }
}
