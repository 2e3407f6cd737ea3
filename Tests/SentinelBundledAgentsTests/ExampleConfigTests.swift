import Foundation
import KDL
import SentinelAgentProtocol
import SentinelAuth
import SentinelTestSupport
import SentinelWAF
import Testing

@testable import SentinelBundledAgents
@testable import SentinelConfig

/// The `config { }` blocks of config/examples/agents.kdl, converted to JSON the way the proxy
/// converts them for Configure, are settings the shipped agents accept.
@Suite struct ExampleConfigTests {
    static func agentConfigs() throws -> [String: AgentJSON] {
        let text = try String(contentsOfFile: packageRoot + "/config/examples/agents.kdl", encoding: .utf8)
        let doc = try KDLParser.parse(text)
        var out: [String: AgentJSON] = [:]
        for agents in doc.nodes where agents.name == "agents" {
            for agent in agents.children where agent.name == "agent" {
                guard case .string(let id)? = agent.arguments.first?.kind,
                      let config = agent.children.first(where: { $0.name == "config" }) else { continue }
                let json = JSONValue.object(ofChildrenOf: config).serialized()
                out[id] = try AgentCodec.decode(AgentJSON.self, from: Array(json.utf8))
            }
        }
        return out
    }

    @Test func theExampleAgentSettingsAreAccepted() async throws {
        let configs = try Self.agentConfigs()
        #expect(Set(configs.keys) == ["waf", "auth"])
        let waf = try WAFAgent(settings: WAFSettings())
        try await waf.configure(try #require(configs["waf"]), version: nil)
        #expect(waf.settings.exclusions == [WAFExclusion(ruleIDs: ["100108"], pathPrefix: "/search")])
        // The auth settings name files of a real installation: their shape is checked here,
        // reading them is checked by the auth tests.
        let auth = try decodeSettings(AuthSettings.self, from: try #require(configs["auth"]))
        #expect(auth.jwksFile == "/etc/sentinel/jwks.json")
        #expect(auth.issuers == ["https://id.example.com"])
        #expect(auth.claimHeaders == ["role"])
    }
}
