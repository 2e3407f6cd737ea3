import KDL

/// `type "timeout"`: overrides the route's timeouts for routes that use this filter.
public struct TimeoutFilterConfig: Sendable, Hashable {
    /// `request-timeout-secs`: the whole request, from first byte to last.
    public var requestTimeout: Duration?
    /// `upstream-timeout-secs`: waiting for the upstream's response (read/write).
    public var upstreamTimeout: Duration?
    /// `connect-timeout-secs`: connecting to an upstream target.
    public var connectTimeout: Duration?

    public init() {}

    static func read(from r: inout NodeReader) -> TimeoutFilterConfig {
        var c = TimeoutFilterConfig()
        c.requestTimeout = r.duration("request-timeout-secs", unit: .seconds, min: .milliseconds(1))
        c.upstreamTimeout = r.duration("upstream-timeout-secs", unit: .seconds, min: .milliseconds(1))
        c.connectTimeout = r.duration("connect-timeout-secs", unit: .seconds, min: .milliseconds(1))
        if c.requestTimeout == nil, c.upstreamTimeout == nil, c.connectTimeout == nil,
           !r.has("request-timeout-secs", "upstream-timeout-secs", "connect-timeout-secs") {
            r.sink.warning(r.location, r.path, "this timeout filter sets no timeout",
                           hint: "add request-timeout-secs, upstream-timeout-secs or connect-timeout-secs")
        }
        return c
    }
}
