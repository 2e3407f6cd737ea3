import KDL

/// `type "log"`: logs requests and responses passing through the routes that use it.
public struct LogFilterConfig: Sendable, Hashable {
    public enum Level: String, Sendable, Hashable {
        case trace, debug, info, warn, error
        static let options: [(String, Level)] = [("trace", .trace), ("debug", .debug), ("info", .info), ("warn", .warn), ("warning", .warn), ("error", .error)]
    }

    /// `log-request`: log each request line and headers.
    public var logRequest = true
    /// `log-response`: log each response status and headers.
    public var logResponse = true
    /// `log-body`: also log bodies (may log secrets; off by default).
    public var logBody = false
    /// `max-body-log-size`: bytes of body logged at most.
    public var maxBodyLogSize: Int64 = 4096
    /// `level`: the log level of the entries.
    public var level: Level = .info

    public init() {}

    static func read(from r: inout NodeReader) -> LogFilterConfig {
        var c = LogFilterConfig()
        c.logRequest = r.bool("log-request", default: c.logRequest)
        c.logResponse = r.bool("log-response", default: c.logResponse)
        c.logBody = r.bool("log-body", default: c.logBody)
        c.maxBodyLogSize = r.size("max-body-log-size", default: c.maxBodyLogSize)!
        c.level = r.choice("level", default: c.level, options: Level.options)
        return c
    }
}
