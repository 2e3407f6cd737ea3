public import Logging
public import SentinelConfig
public import SentinelObservability

#if canImport(Glibc)
import Glibc
#endif

/// Lifecycle logging of the `sentinel-stack` processes, on the one logger every Sentinel process
/// uses: swift-log with `JSONLogHandler` (one JSON object per line on stderr, with `ts`, `level`,
/// `role`, `pid`, `event`, then typed fields).
///
/// Every transition (generation starting/live/failed/retired, worker spawned/ready/exited,
/// reload, stop) is logged exactly once, by the state machine's `.log` actions, with the
/// generation and pids as fields, so tests and operators can follow a reload in the log alone.
extension Logger {
    /// The logger of `role` ("master", "worker", "guard") at the configuration's level.
    public static func sentinel(role: String, config: ObservabilityConfig.Logging) -> Logger {
        .sentinel(role: role, level: JSONLogHandler.level(named: config.level.rawValue), timestamps: config.timestamps)
    }

    /// Logs an entry a state machine returned.
    public func emit(_ entry: LogEntry) {
        var metadata: Logger.Metadata = [:]
        for (key, value) in entry.fields { metadata[key] = value }
        emit(entry.level, entry.event, metadata)
    }
}

/// One log event as a pure state machine returns it (`MasterState`, `AgentSupervisor`), before
/// it reaches the logger. Fields are typed (`.int`, `.bool`, strings) and keep their order here;
/// the logger writes them by key.
public struct LogEntry: Sendable, Equatable {
    public var level: String
    public var event: String
    public var fields: [(String, Logger.MetadataValue)]

    public init(_ level: String, _ event: String, _ fields: [(String, Logger.MetadataValue)]) {
        self.level = level
        self.event = event
        self.fields = fields
    }

    public func field(_ name: String) -> Logger.MetadataValue? { fields.first { $0.0 == name }?.1 }

    public static func == (a: LogEntry, b: LogEntry) -> Bool {
        a.level == b.level && a.event == b.event && a.fields.elementsEqual(b.fields, by: { $0.0 == $1.0 && $0.1 == $1.1 })
    }
}
