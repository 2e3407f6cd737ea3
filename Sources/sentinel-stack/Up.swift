import ArgumentParser
import SentinelConfig
import SentinelMaster
import SentinelProxy
import SentinelRuntime

/// `sentinel-stack up`: the master.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the master and its worker processes until stopped.",
        discussion: """
            Exits 0 after a clean stop (every worker drained in time), 1 otherwise (invalid \
            configuration, a listener that cannot be bound, a first generation that never got \
            ready, or connections cut off at the graceful-shutdown deadline).
            """
    )

    @OptionGroup var options: StackConfigOption

    func run() async throws {
        // --config, $SENTINEL_CONFIG or the built-in default, as `check`.
        let master = Master(options: .init(source: options.source, environment: currentEnvironment(), plan: StackPlan.addresses))
        let code = await master.run()
        if code != 0 { throw ExitCode(code) }
    }
}

/// Joins the master and the data plane: which sockets a configuration needs, checked by building
/// the same snapshot a worker will build, so a configuration the data plane rejects fails the
/// reload in the master, before any worker is spawned.
enum StackPlan {
    @Sendable static func addresses(_ config: SentinelConfiguration) -> Result<[ListenAddress], ControlError> {
        let identity = ProcessIdentity(stickyKey: [], proxyID: "", zone: "default")
        do {
            let snapshot = try SnapshotBuilder.build(config, instanceID: "", process: identity)
            var seen = Set<ListenAddress>()
            return .success(snapshot.listeners.map { ListenAddress(host: $0.host, port: $0.port) }.filter { seen.insert($0).inserted })
        } catch {
            return .failure(ControlError(error.description))
        }
    }
}
