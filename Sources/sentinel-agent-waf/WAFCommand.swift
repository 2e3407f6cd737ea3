import ArgumentParser
import SentinelAgentSDK
import SentinelBundledAgents
import SentinelWAF

/// `sentinel-agent-waf --socket PATH [--paranoia-level N] [--anomaly-threshold N] [--detect-only] …`
@main
struct WAFCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel-agent-waf",
        abstract: "Sentinel WAF agent: ordered rules with anomaly scoring over request heads and bodies.",
        discussion: """
            Settings come from --config (JSON, the keys of the agent's config { } block) and these flags,
            which override it; a Configure from the proxy with a non-empty config replaces them whole.
            """)

    @OptionGroup var common: AgentCommandOptions

    @Option(help: "Paranoia level 1-4 (default 1).")
    var paranoiaLevel: Int?

    @Option(help: "Anomaly score that blocks (default 5).")
    var anomalyThreshold: Int?

    @Flag(help: "Report matches in the audit data, block nothing.")
    var detectOnly = false

    @Option(help: "Status of a block (default 403).")
    var blockStatus: Int?

    @Option(help: "JSON file of further rules ({\"rule\": [...]} or an array).")
    var rules: String?

    @Option(help: "Rule id to turn off (repeatable).")
    var disableRule: [String] = []

    @Flag(help: "Start without the starter rule set (only --rules / config rules).")
    var noStarterRules = false

    @Option(help: "Body bytes inspected per request (default 1048576).")
    var maxBodyBytes: Int?

    func run() async throws {
        try await common.serve(role: "agent-waf") {
            var s = try common.config.map { try decodeSettings(WAFSettings.self, file: $0) } ?? WAFSettings()
            if let paranoiaLevel { s.paranoiaLevel = paranoiaLevel }
            if let anomalyThreshold { s.anomalyThreshold = anomalyThreshold }
            if detectOnly { s.detectOnly = true }
            if let blockStatus { s.blockStatus = blockStatus }
            if let rules { s.rulesFile = rules }
            if !disableRule.isEmpty { s.disabledRules += disableRule }
            if noStarterRules { s.starterRules = false }
            if let maxBodyBytes { s.maxBodyBytes = maxBodyBytes }
            return try WAFAgent(settings: s)
        }
    }
}
