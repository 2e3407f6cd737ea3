import SentinelConfig

/// Runs the data plane in this process until a stop signal.
struct SingleProcess {
    let source: ConfigSource
    let initial: SentinelConfiguration

    func run() async throws {
        Console.error("sentinel: the data plane is not wired into this build yet")
    }
}
