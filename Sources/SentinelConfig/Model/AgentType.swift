/// What an agent does; informational (metrics, logs, audit tags). Set with `type="waf"`.
public enum AgentType: Sendable, Hashable, CustomStringConvertible {
    case waf
    case auth
    case rateLimit
    /// Any other name; an agent without a type is `custom(<agent id>)`.
    case custom(String)

    init(_ name: String) {
        switch Suggest.normalize(name) {
        case "waf": self = .waf
        case "auth": self = .auth
        case "rate-limit", "ratelimit": self = .rateLimit
        default: self = .custom(name)
        }
    }

    public var description: String {
        switch self {
        case .waf: return "waf"
        case .auth: return "auth"
        case .rateLimit: return "rate-limit"
        case .custom(let s): return s
        }
    }
}
