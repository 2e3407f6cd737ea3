/// What Sentinel does when an agent cannot give a decision (error, timeout, open breaker,
/// body too large to inspect).
public enum FailureMode: String, Sendable, Hashable {
    /// Skip the agent and let the request through (availability first).
    case open
    /// Refuse the request: 503 on error, 504 on timeout, 413 on an oversize body (security first).
    case closed

    /// Accepted spellings: `open`/`closed` and the original's `fail-open`/`fail_closed` forms.
    static let options: [(String, FailureMode)] = [
        ("open", .open), ("closed", .closed),
        ("fail-open", .open), ("fail-closed", .closed),
    ]
}
