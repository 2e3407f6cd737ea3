public import SentinelAgentProtocol
public import SentinelAgentSDK
public import SentinelWAF
import Foundation
import Synchronization

/// The WAF agent: the rule engine of `SentinelWAF` over request heads (0x10) and bodies (0x11).
/// Over the threshold it blocks (403 by default) with the matched rule ids and tags in the audit
/// data; in detect-only mode it allows and reports the same audit data.
///
/// A request's score and head carry to its body chunks (a rule scores once per request, and
/// exclusions by path apply to body rules): they are kept per correlation id for requests that
/// announce a body, at most `maxTrackedRequests` (oldest dropped first), and dropped on the
/// request's last chunk, RequestComplete or Cancel.
/// Each chunk is inspected together with the last `overlap` bytes of the previous one, so a
/// pattern split across two chunks is still seen; bytes past `max-body-bytes` are not inspected.
public final class WAFAgent: AgentHandler {
    struct Tracked {
        var carry = WAFCarry()
        var head: WAFRequest
        var tail: [UInt8] = []
        var inspected = 0
    }

    struct State {
        var settings: WAFSettings
        var policy: WAFPolicy
        /// The last `config` applied: the proxy repeats it on every connection (handshake and
        /// Configure), which then changes nothing (tracked requests survive a reconnect).
        var applied: AgentJSON?
        var tracked: [String: Tracked] = [:]
        var order: [String] = []
    }

    let state: Mutex<State>
    public static let version = "1.0.0"
    public static let maxTrackedRequests = 10_000
    static let overlap = 512

    public init(settings: WAFSettings) throws {
        state = Mutex(State(settings: settings, policy: try Self.buildPolicy(settings)))
    }

    /// Builds the policy, reading `rules-file` (`{"rule": [ … ]}` or an array of rules).
    public static func buildPolicy(_ settings: WAFSettings) throws -> WAFPolicy {
        var extra: [WAFRuleSpec] = []
        if let path = settings.rulesFile {
            guard let data = FileManager.default.contents(atPath: path) else { throw SettingsError("cannot read \(path)") }
            struct File: Decodable { var rule: [WAFRuleSpec] }
            do {
                if let list = try? JSONDecoder().decode([WAFRuleSpec].self, from: data) { extra = list } else {
                    extra = try JSONDecoder().decode(File.self, from: data).rule
                }
            } catch let e as DecodingError { throw SettingsError("\(path): \(describe(e))") }
        }
        do { return try settings.policy(extraRules: extra) } catch { throw SettingsError(error.description) }
    }

    public var capabilities: AgentCapabilities {
        var f = AgentFeatures()
        f.configPush = true
        f.cancellation = true
        f.concurrentRequests = 256
        return AgentCapabilities(agentID: "waf", name: "Sentinel WAF agent", version: Self.version,
                                 supportedEvents: [1, 2, 5], features: f)
    }

    public var settings: WAFSettings { state.withLock { $0.settings } }

    /// New settings replace the current ones whole (a null or empty `config` keeps them, and so
    /// does the same `config` again).
    public func configure(_ config: AgentJSON, version: String?) async throws {
        if config == .null || config == .object([:]) || state.withLock({ $0.applied == config }) { return }
        let s = try decodeSettings(WAFSettings.self, from: config)
        let p = try Self.buildPolicy(s)
        state.withLock { $0.settings = s; $0.policy = p; $0.applied = config; $0.tracked = [:]; $0.order = [] }
    }

    public func requestHeaders(_ event: RequestHeadersEvent) async -> AgentResponse {
        let (policy, status) = state.withLock { ($0.policy, $0.settings.blockStatus) }
        var headers: [(name: String, value: String)] = []
        for name in event.headers.keys.sorted() {
            for v in event.headers[name] ?? [] { headers.append((name, v)) }
        }
        let request = WAFRequest(method: event.method, uri: event.uri, headers: headers)
        var carry = WAFCarry()
        let verdict = policy.evaluate(request, phase: .head, carry: &carry)
        let hasBody = event.headers["transfer-encoding"] != nil
            || (event.headers["content-length"]?.first.map { $0 != "0" } ?? false)
        if !verdict.block, policy.inspectsBody, hasBody {
            track(event.metadata.correlationID, Tracked(carry: carry, head: request))
        }
        return answer(verdict, policy: policy, status: status)
    }

    public func requestBodyChunk(_ event: RequestBodyChunkEvent) async -> AgentResponse {
        let cid = event.chunk.correlationID
        let (policy, status, limit, known) = state.withLock { s in
            (s.policy, s.settings.blockStatus, s.settings.maxBodyBytes, s.tracked.removeValue(forKey: cid))
        }
        var t = known ?? Tracked(head: WAFRequest(method: "", uri: "", headers: []))
        let room = max(0, limit - t.inspected)
        let fresh = event.chunk.data.prefix(room)
        t.inspected += fresh.count
        let window = t.tail + fresh
        var verdict = WAFVerdict(matches: [], score: t.carry.score, overThreshold: false, block: false)
        if !fresh.isEmpty { verdict = policy.evaluate(t.head, phase: .body, body: window, carry: &t.carry) }
        t.tail = Array(window.suffix(Self.overlap))
        if !event.chunk.isLast && !verdict.block && t.inspected < limit { track(cid, t) }
        return answer(verdict, policy: policy, status: status)
    }

    public func requestComplete(_ event: RequestCompleteEvent) async -> AgentResponse {
        forget(event.correlationID)
        return .allow()
    }

    public func cancelled(_ message: CancelMessage) async {
        forget(message.correlationID)
    }

    /// Requests whose carry is being kept (for tests and metrics).
    public var trackedCount: Int { state.withLock { $0.tracked.count } }

    func track(_ cid: String, _ t: Tracked) {
        state.withLock { s in
            if s.tracked.updateValue(t, forKey: cid) == nil { s.order.append(cid) }
            if s.order.count > Self.maxTrackedRequests * 2 { s.order.removeAll { s.tracked[$0] == nil } }
            while s.tracked.count > Self.maxTrackedRequests, !s.order.isEmpty {
                s.tracked.removeValue(forKey: s.order.removeFirst())
            }
        }
    }

    func forget(_ cid: String) {
        state.withLock { _ = $0.tracked.removeValue(forKey: cid) }
    }

    func answer(_ v: WAFVerdict, policy: WAFPolicy, status: Int) -> AgentResponse {
        var r: AgentResponse = v.block ? .block(status: UInt16(status), body: "Forbidden") : .allow()
        if v.matches.isEmpty { return r }
        r.audit.ruleIDs = v.ruleIDs
        r.audit.tags = ["waf"] + v.tags + (policy.detectOnly ? ["detect-only"] : [])
        r.audit.reasonCodes = v.matches.map { "\($0.ruleID) \($0.description) (\($0.target))" }
        r.audit.confidence = min(1, Float(v.score) / Float(max(1, policy.threshold)))
        return r.withAudit("anomaly_score", .number(Double(v.score)))
            .withAudit("threshold", .number(Double(policy.threshold)))
            .withAudit("paranoia_level", .number(Double(policy.paranoia)))
    }
}
