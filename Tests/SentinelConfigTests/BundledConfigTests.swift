import Foundation
import SentinelConfig
import Testing

/// The bundled default and every example must stay loadable. An example that needs a feature
/// this build lacks must fail with exactly its `not supported yet` diagnostics and nothing
/// else; the list below shrinks as features land (an entry going stale fails the test).
@Suite struct BundledConfigTests {
    @Test func defaultConfigFileEqualsTheBuiltInText() throws {
        let file = try String(contentsOfFile: packageRoot + "/config/sentinel.kdl", encoding: .utf8)
        #expect(file == DefaultConfig.text, "regenerate Sources/SentinelConfig/Loading/DefaultConfig.swift from config/sentinel.kdl")
    }

    @Test func defaultConfigIsValid() throws {
        let loaded = try ConfigLoader.load(file: packageRoot + "/config/sentinel.kdl").get()
        #expect(loaded.warnings.isEmpty)
        #expect(loaded.config.routes.map(\.id) == ["welcome", "health", "status", "metrics", "config"])
        #expect(loaded.config.listeners.first?.address.description == "127.0.0.1:8080")
    }

    /// example file → the features it needs that are not built yet, as `line: feature`.
    static let pendingFeatures: [String: [String]] = [
        "reverse-proxy.kdl": [],
        "api-gateway.kdl": [],
        "load-balancer.kdl": [],
        "inference-gateway.kdl": [
            "19: inference", "19: fallback provider / model-mapping (inference)",
        ],
        "websocket-gateway.kdl": [],
        "security-gateway.kdl": [
            "41: agent filter inspect-body (filter \"waf\")", "41: agent filter max-body-bytes (filter \"waf\")",
            "58: agent events \"request_body\" (agent \"waf-agent\"; request_headers is supported)",
        ],
        "agents.kdl": [
            "62: agent events \"request_body\" (agent \"waf\"; request_headers is supported)",
            "87: agent events \"response_headers\" (agent \"echo\"; request_headers is supported)",
        ],
        "caching.kdl": ["18: builtin-handler \"cache-purge\"", "23: route cache", "42: the HTTP cache (cache block)"],
        "static-site.kdl": ["23: static-files"],
    ]

    static var exampleFiles: [String] {
        let dir = packageRoot + "/config/examples"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".kdl") }.sorted()
    }

    /// An example the gate refuses says so in the comment at its top (and a runnable one does
    /// not), so nobody copies it expecting it to start.
    @Test(arguments: exampleFiles)
    func exampleHeaderSaysWhetherItRuns(_ name: String) throws {
        let text = try String(contentsOfFile: packageRoot + "/config/examples/" + name, encoding: .utf8)
        let header = text.split(separator: "\n", omittingEmptySubsequences: false).prefix { $0.hasPrefix("//") }.joined(separator: "\n")
        let says = header.contains("NOT RUNNABLE WITH THIS BUILD YET") && header.contains("not supported yet")
        #expect(says == !(Self.pendingFeatures[name] ?? []).isEmpty, "\(name): header \(says ? "says" : "does not say") it is refused")
    }

    @Test func everyExampleIsListed() {
        #expect(Set(Self.exampleFiles) == Set(Self.pendingFeatures.keys))
        #expect(Self.exampleFiles.count >= 8)
    }

    @Test(arguments: exampleFiles)
    func exampleFailsOnlyOnPendingFeatures(_ name: String) {
        let expected = Self.pendingFeatures[name] ?? []
        switch ConfigLoader.load(file: packageRoot + "/config/examples/" + name) {
        case .success:
            #expect(expected.isEmpty, "\(name) is now fully valid: remove its entry from pendingFeatures")
        case .failure(let error):
            let other = error.errors.filter { !$0.message.hasPrefix("not supported yet: ") }
            #expect(other.isEmpty, "\(name) has real errors:\n\(ConfigError(diagnostics: other).rendered())")
            let got = error.errors.filter { $0.message.hasPrefix("not supported yet: ") }
                .map { "\($0.location.line): \($0.message.dropFirst("not supported yet: ".count))" }
            #expect(got == expected, "\(name)")
        }
    }
}
