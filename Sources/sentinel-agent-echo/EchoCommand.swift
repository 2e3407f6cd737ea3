import ArgumentParser
import SentinelAgentSDK
import SentinelBundledAgents

/// `sentinel-agent-echo --socket PATH [--prefix X-Echo-] [--verbose]`
@main
struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel-agent-echo",
        abstract: "Sentinel agent that echoes what it sees as X-Echo-* headers (protocol v2 over a Unix socket).")

    @OptionGroup var common: AgentCommandOptions

    @Option(help: "Prefix of the echo headers.")
    var prefix: String?

    @Flag(help: "Also echo client address, timestamp, user agent, content type and header counts.")
    var verbose = false

    func run() async throws {
        try await common.serve(role: "agent-echo") {
            var settings = try common.config.map { try decodeSettings(EchoAgent.Settings.self, file: $0) } ?? EchoAgent.Settings()
            if let prefix { settings.prefix = prefix }
            if verbose { settings.verbose = true }
            return EchoAgent(settings: settings)
        }
    }
}
