import ArgumentParser
import Foundation
import SentinelAgentSDK
import SentinelAuth
import SentinelBundledAgents

/// `sentinel-agent-auth --socket PATH (--jwt-secret-file F | --jwt-public-key F | --jwks F | --api-keys-file F) …`
@main
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel-agent-auth",
        abstract: "Sentinel agent that checks bearer JWTs (HS256, RS256, ES256) and API keys; 401 otherwise.",
        discussion: """
            Settings come from --config (JSON, the keys of the agent's config { } block) and these flags,
            which override it; a Configure from the proxy with a non-empty config replaces them whole.
            Secrets are read from files (or SENTINEL_AUTH_JWT_SECRET), never from the command line.
            """)

    @OptionGroup var common: AgentCommandOptions

    @Option(help: "File holding the HS256 secret (at least 32 bytes; a final newline is dropped).")
    var jwtSecretFile: String?

    @Option(help: "PEM public key or certificate for RS256/ES256 (repeatable).")
    var jwtPublicKey: [String] = []

    @Option(help: "JWKS file (RSA, EC P-256 and oct keys, chosen by kid).")
    var jwks: String?

    @Option(help: "Accepted issuer (repeatable; none = any).")
    var issuer: [String] = []

    @Option(help: "Accepted audience (repeatable; none = any).")
    var audience: [String] = []

    @Option(help: "Clock skew allowed on exp and nbf, in seconds (default 60).")
    var leeway: Int?

    @Option(help: "Accepted algorithm: HS256, RS256, ES256 (repeatable; default all).")
    var algorithm: [String] = []

    @Flag(help: "Accept tokens without exp.")
    var allowMissingExp = false

    @Option(help: "Claim sent upstream as x-user-id (default sub).")
    var userClaim: String?

    @Option(help: "Claim sent upstream as x-auth-claim-<name> (repeatable).")
    var claimHeader: [String] = []

    @Option(help: "Header that carries API keys (default x-api-key).")
    var apiKeyHeader: String?

    @Option(help: "File of API keys, one name:key per line (# comments).")
    var apiKeysFile: String?

    @Option(help: "Realm in WWW-Authenticate (default sentinel).")
    var realm: String?

    func settings() throws -> AuthSettings {
        var s = try common.config.map { try decodeSettings(AuthSettings.self, file: $0) } ?? AuthSettings()
        if let path = jwtSecretFile {
            guard let data = FileManager.default.contents(atPath: path) else { throw SettingsError("cannot read \(path)") }
            var text = String(decoding: data, as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            s.jwtSecret = text
        } else if let env = ProcessInfo.processInfo.environment["SENTINEL_AUTH_JWT_SECRET"], !env.isEmpty {
            s.jwtSecret = env
        }
        if !jwtPublicKey.isEmpty { s.jwtPublicKeyFiles = jwtPublicKey }
        if let jwks { s.jwksFile = jwks }
        if !issuer.isEmpty { s.issuers = issuer }
        if !audience.isEmpty { s.audiences = audience }
        if let leeway { s.leewaySeconds = leeway }
        if !algorithm.isEmpty { s.algorithms = algorithm }
        if allowMissingExp { s.requireExp = false }
        if let userClaim { s.userClaim = userClaim }
        if !claimHeader.isEmpty { s.claimHeaders = claimHeader }
        if let apiKeyHeader { s.apiKeyHeader = apiKeyHeader }
        if let apiKeysFile { s.apiKeysFile = apiKeysFile }
        if let realm { s.realm = realm }
        return s
    }

    func run() async throws {
        try await common.serve(role: "agent-auth") { try AuthAgent(settings: try settings()) }
    }
}
