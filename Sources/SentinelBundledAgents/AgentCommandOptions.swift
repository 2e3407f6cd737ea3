public import ArgumentParser
import Logging
public import SentinelAgentSDK
import SentinelObservability

/// The command-line options every shipped agent has (`--socket`, `--config`, `--log-level`), and
/// the one way they start: a JSON logger for their role, the agent made from its settings (a
/// failure is logged as `agent_start_failed` and exits with status 2), then the server until
/// SIGTERM or SIGINT.
public struct AgentCommandOptions: ParsableArguments {
    @Option(help: "Unix socket to listen on.")
    public var socket: String

    @Option(help: "Settings as a JSON file (the keys of the agent's config { } block); flags override it.")
    public var config: String?

    @Option(help: "Log level: debug, info, warn, error.")
    public var logLevel = "info"

    public init() {}

    /// Runs the agent `make` builds, as `role` (e.g. "agent-waf").
    public func serve<H: AgentHandler>(role: String, _ make: () throws -> H) async throws {
        let log = Logger.sentinel(role: role, level: JSONLogHandler.level(named: logLevel))
        let agent: H
        do { agent = try make() } catch {
            log.emit("error", "agent_start_failed", ["reason": "\(error)"])
            throw ExitCode(2)
        }
        try await AgentProcess.run(AgentServer(socketPath: socket, handler: agent, logger: log))
    }
}
