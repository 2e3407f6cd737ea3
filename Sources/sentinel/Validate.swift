import ArgumentParser
import SentinelConfig
import SentinelRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `sentinel validate`: `test`, plus checks that need the file system.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration and the files it points at (certificates, keys, directories).",
        discussion: """
            Everything `sentinel test` checks, and then that every TLS certificate, key, CA \
            and CRL file exists and holds PEM data of the right kind, that each listener certificate \
            matches its key, is in chain order, covers its SNI names and is valid (a warning \
            when it expires within 30 days), that each OCSP response file is for its \
            certificate, not revoked and not expired (a warning within a day), that the client \
            CAs and CRLs load, that static-file roots are \
            directories, that log files can be written, and that agent socket directories \
            exist. Exit 0 when everything holds, 1 otherwise; warnings do not fail.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Skip the certificate and key file checks.")
    var skipCerts = false

    @Flag(help: "Skip the agent socket checks.")
    var skipAgents = false

    func run() throws {
        let source = options.source
        guard let loaded = ConfigCheck.run(source, program: "sentinel") else { throw ExitCode(1) }
        var report = FileChecks.run(loaded.config, certificates: !skipCerts, agents: !skipAgents)
        if !skipCerts {
            let certs = CertificateValidation.run(loaded.config, now: Int64(time(nil)))
            report.lines += certs.lines
            report.failures += certs.failures
        }
        let logs = FileChecks.logFiles(loaded.config)
        report.lines += logs.lines
        report.failures += logs.failures
        for line in report.lines { Console.out(line) }
        if report.failures > 0 {
            Console.error("sentinel: configuration file \(source) validation failed (\(report.failures) problem\(report.failures == 1 ? "" : "s"))")
            throw ExitCode(1)
        }
        Console.out("sentinel: configuration file \(source) validation is successful")
    }
}
