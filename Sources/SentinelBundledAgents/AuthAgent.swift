public import SentinelAgentProtocol
public import SentinelAgentSDK
public import SentinelAuth
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The auth agent: a request passes with an API key (in its configured header) or a bearer JWT
/// (HS256, RS256, ES256); the identity goes upstream as `x-user-id`, `x-auth-method` and
/// `x-auth-claim-*` (any such header the client sent is replaced or removed). Otherwise 401 with
/// `WWW-Authenticate` in the block's headers.
public final class AuthAgent: AgentHandler {
    let state: Mutex<(settings: AuthSettings, authenticator: Authenticator, applied: AgentJSON?)>
    let clock: @Sendable () -> Int64

    public static let version = "1.0.0"

    /// Seconds since the epoch.
    public static let systemClock: @Sendable () -> Int64 = { Int64(time(nil)) }

    /// `settings` must build (`authenticator()`); the command line checks that first.
    public init(settings: AuthSettings, clock: @escaping @Sendable () -> Int64 = AuthAgent.systemClock) throws {
        state = Mutex((settings, try settings.authenticator(), nil))
        self.clock = clock
    }

    public var capabilities: AgentCapabilities {
        var f = AgentFeatures()
        f.configPush = true
        f.cancellation = true
        f.concurrentRequests = 256
        return AgentCapabilities(agentID: "auth", name: "Sentinel auth agent", version: Self.version,
                                 supportedEvents: [1], features: f)
    }

    public var settings: AuthSettings { state.withLock { $0.settings } }

    /// New settings replace the current ones whole (a null or empty `config` keeps them, and so
    /// does the same `config` again: the proxy repeats it on every connection); settings that do
    /// not build are rejected and the current ones stay.
    public func configure(_ config: AgentJSON, version: String?) async throws {
        if config == .null || config == .object([:]) || state.withLock({ $0.applied == config }) { return }
        let s = try decodeSettings(AuthSettings.self, from: config)
        let a: Authenticator
        do { a = try s.authenticator() } catch { throw SettingsError(error.description) }
        state.withLock { $0 = (s, a, config) }
    }

    public func requestHeaders(_ event: RequestHeadersEvent) async -> AgentResponse {
        let authenticator = state.withLock { $0.authenticator }
        switch authenticator.authenticate(event.headers, now: clock()) {
        case .authenticated(let headers):
            // `set` replaces every value a client sent; identity headers this request does not
            // set are removed. No remove-then-set of one name: the answer means the same
            // whatever order a proxy applies the edits in.
            var r = AgentResponse.allow()
            for h in headers { r = r.settingRequestHeader(h.name, h.value) }
            for name in authenticator.identityHeaderNames where !headers.contains(where: { $0.name == name }) {
                r = r.removingRequestHeader(name)
            }
            let method = headers.first { $0.name == "x-auth-method" }?.value ?? ""
            let user = headers.first { $0.name == "x-user-id" }?.value ?? ""
            return r.tagged("auth", "auth:\(method)").withAudit("user", .string(user))
        case .denied(let reason, let challenge):
            var r = AgentResponse.block(status: 401, body: "Unauthorized", headers: ["www-authenticate": challenge])
                .tagged("auth", "auth:denied")
            r.audit.reasonCodes = [reason]
            return r
        }
    }
}
