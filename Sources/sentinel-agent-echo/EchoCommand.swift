import ArgumentParser
import Logging
import SentinelAgentSDK
import SentinelBundledAgents
import SentinelObservability

/// `sentinel-agent-echo --socket PATH [--prefix X-Echo-] [--verbose]`
@main
struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel-agent-echo",
        abstract: "Sentinel agent that echoes what it sees as X-Echo-* headers (protocol v2 over a Unix socket).")

    @Option(help: "Unix socket to listen on.")
    var socket: String

    @Option(help: "Settings as a JSON file (keys: prefix, verbose); flags override it.")
    var config: String?

    @Option(help: "Prefix of the echo headers.")
    var prefix: String?

    @Flag(help: "Also echo client address, timestamp, user agent, content type and header counts.")
    var verbose = false

    @Option(help: "Log level: debug, info, warn, error.")
    var logLevel = "info"

    func run() async throws {
        let log = Logger.sentinel(role: "agent-echo", level: JSONLogHandler.level(named: logLevel))
        var settings = EchoAgent.Settings()
        do {
            if let config { settings = try decodeSettings(EchoAgent.Settings.self, file: config) }
        } catch {
            log.emit("error", "agent_start_failed", ["reason": "\(error)"])
            throw ExitCode(2)
        }
        if let prefix { settings.prefix = prefix }
        if verbose { settings.verbose = true }
        let server = AgentServer(socketPath: socket, handler: EchoAgent(settings: settings), logger: log)
        try await AgentProcess.run(server)
    }
}
