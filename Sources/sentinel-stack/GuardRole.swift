import ArgumentParser
import SentinelMaster

/// `sentinel-stack guard`: the hidden orphan guard the master starts (fd 3: its socket). It
/// stops the master's agents and any straggling worker when the master dies without a normal
/// exit (see `GuardMessage`); started by hand it reads EOF at once and exits.
struct GuardRole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard", abstract: "Internal: stops agents and workers of a master that died.", shouldDisplay: false)

    func run() throws {
        Spawner.nameProcess("sentinel-guard")
        let code = OrphanGuard.run(fd: 3)
        if code != 0 { throw ExitCode(code) }
    }
}
