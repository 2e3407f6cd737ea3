public import SentinelConfig

#if canImport(Glibc)
import Glibc
#endif

/// The master's lifecycle log: one JSON object per line on stderr.
///
/// Every transition (generation starting/live/failed/retired, worker spawned/ready/exited,
/// reload, stop) is logged exactly once, by the state machine's `.log` actions, with the
/// generation and pids as fields, so tests and operators can follow a reload in the log alone.
public struct StackLog: Sendable {
    public let minimum: Int
    public let timestamps: Bool
    /// "master" or "worker", so interleaved lines on one stderr stay attributable.
    public let role: String

    public init(level: String = "info", timestamps: Bool = true, role: String = "master") {
        minimum = Self.rank(level)
        self.timestamps = timestamps
        self.role = role
    }

    public init(config: ObservabilityConfig.Logging, role: String = "master") {
        self.init(level: config.level.rawValue, timestamps: config.timestamps, role: role)
    }

    static func rank(_ level: String) -> Int {
        ["trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4][level] ?? 2
    }

    public func emit(_ entry: LogEntry) {
        guard Self.rank(entry.level) >= minimum else { return }
        var entries: [(String, JSONValue)] = timestamps ? [("ts", .string(Self.timestamp()))] : []
        entries += [("level", .string(entry.level)), ("event", .string(entry.event)), ("role", .string(role))]
        for (key, value) in entry.fields { entries.append((key, .string(value))) }
        writeAll(JSONValue.object(entries).serialized() + "\n", to: 2)
    }

    public func emit(_ level: String, _ event: String, _ fields: KeyValuePairs<String, String> = [:]) {
        emit(LogEntry(level, event, fields.map { ($0.key, $0.value) }))
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ n: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        let ms = Int32(ts.tv_nsec / 1_000_000)
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1))-\(pad(tm.tm_mday))T\(pad(tm.tm_hour)):\(pad(tm.tm_min)):\(pad(tm.tm_sec)).\(pad(ms, 3))Z"
    }
}

/// One log line before formatting; fields keep their order.
public struct LogEntry: Sendable, Equatable {
    public var level: String
    public var event: String
    public var fields: [(String, String)]

    public init(_ level: String, _ event: String, _ fields: [(String, String)]) {
        self.level = level
        self.event = event
        self.fields = fields
    }

    public func field(_ name: String) -> String? { fields.first { $0.0 == name }?.1 }

    public static func == (a: LogEntry, b: LogEntry) -> Bool {
        a.level == b.level && a.event == b.event && a.fields.elementsEqual(b.fields, by: { $0 == $1 })
    }
}

/// Writes all of `text` with write(2) (no shared C `FILE`), retrying on EINTR.
public func writeAll(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return }
        bytes = bytes.dropFirst(n)
    }
}
