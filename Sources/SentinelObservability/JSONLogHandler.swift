#if canImport(Glibc)
import Glibc
#endif
public import Logging
import SentinelFormat

/// The one formatter of Sentinel's lifecycle and health events: a swift-log `LogHandler` that
/// writes one JSON object per line.
///
/// It exists so every process (`sentinel`, the `sentinel-stack` master, its workers and guard)
/// logs the same shape: `ts` (RFC 3339, milliseconds, UTC; left out with `timestamps #false`),
/// `level`, `role`, `pid`, `event` (the log message), then the metadata by key. Values keep their
/// type: integers and finite floating-point values are JSON numbers, booleans are booleans,
/// everything else a string, arrays and dictionaries nest. A line is written with one write(2),
/// so lines shorter than PIPE_BUF (4 KiB) from processes sharing one stderr never interleave.
/// The access log is separate (`AccessLogFormatter`): it is on the request path.
public struct JSONLogHandler: LogHandler {
    /// Where lines go: a file descriptor (stderr), or a closure (tests), which receives each
    /// line without its newline.
    public enum Output: Sendable {
        case fd(Int32)
        case lines(@Sendable (String) -> Void)
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    public let role: String
    public let timestamps: Bool
    public let output: Output
    /// Fixed time for tests; nil reads the clock.
    let clock: (@Sendable () -> (seconds: Int, milliseconds: Int))?

    public init(role: String, level: Logger.Level = .info, timestamps: Bool = true, output: Output = .fd(2)) {
        self.init(role: role, level: level, timestamps: timestamps, output: output, clock: nil)
    }

    init(
        role: String, level: Logger.Level, timestamps: Bool, output: Output,
        clock: (@Sendable () -> (seconds: Int, milliseconds: Int))?
    ) {
        self.role = role
        logLevel = level
        self.timestamps = timestamps
        self.output = output
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = format(level: event.level, event: event.message.description, metadata: merged)
        switch output {
        case .fd(let fd): writeAll(line + "\n", to: fd)
        case .lines(let sink): sink(line)
        }
    }

    /// The JSON object of one event (no newline).
    func format(level: Logger.Level, event: String, metadata: Logger.Metadata) -> String {
        var out = "{"
        if timestamps {
            let now = clock?() ?? Self.now()
            out += "\"ts\":\"" + Self.rfc3339(seconds: now.seconds, milliseconds: now.milliseconds) + "\","
        }
        out += "\"level\":\"" + Self.levelName(level) + "\",\"role\":"
        JSONString.append(role, to: &out)
        out += ",\"pid\":" + String(getpid()) + ",\"event\":"
        JSONString.append(event, to: &out)
        for key in metadata.keys.sorted() where !Self.fixed.contains(key) {
            out += ","
            JSONString.append(key, to: &out)
            out += ":"
            Self.append(metadata[key]!, to: &out)
        }
        return out + "}"
    }

    /// Keys of the leading fields: metadata never overrides them.
    static let fixed: Set<String> = ["ts", "level", "role", "pid", "event"]

    public static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warn"
        case .error: "error"
        case .critical: "critical"
        }
    }

    /// The configuration's level names (`logging { level }`): trace, debug, info, warn (warning), error.
    public static func level(named name: String) -> Logger.Level {
        switch name {
        case "trace": .trace
        case "debug": .debug
        case "warn", "warning": .warning
        case "error": .error
        case "critical": .critical
        case "notice": .notice
        default: .info
        }
    }

    static func append(_ value: Logger.MetadataValue, to out: inout String) {
        switch value {
        case .string(let s):
            JSONString.append(s, to: &out)
        case .stringConvertible(let v):
            switch v {
            case let b as Bool: out += b ? "true" : "false"
            case let i as any BinaryInteger: out += String(describing: i)
            case let d as Double where d.isFinite: out += String(d)
            case let f as Float where f.isFinite: out += String(f)
            default: JSONString.append(v.description, to: &out)
            }
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                append(item, to: &out)
            }
            out += "]"
        case .dictionary(let dict):
            out += "{"
            for (i, key) in dict.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                JSONString.append(key, to: &out)
                out += ":"
                append(dict[key]!, to: &out)
            }
            out += "}"
        }
    }

    static func now() -> (seconds: Int, milliseconds: Int) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int(ts.tv_sec), Int(ts.tv_nsec / 1_000_000))
    }

    /// `2026-12-03T12:50:45.123Z`.
    public static func rfc3339(seconds: Int, milliseconds: Int) -> String {
        CivilTime(unixSeconds: Int64(seconds)).rfc3339(milliseconds: milliseconds)
    }
}

extension Logger.MetadataValue {
    /// An integer field, written as a JSON number.
    public static func int(_ v: some BinaryInteger) -> Self { .stringConvertible(Int64(v)) }
    /// A list of integers (pids), written as a JSON array of numbers.
    public static func ints<S: Sequence>(_ values: S) -> Self where S.Element: BinaryInteger { .array(values.map { .int($0) }) }
    /// A boolean field, written as `true`/`false`.
    public static func bool(_ v: Bool) -> Self { .stringConvertible(v) }
    /// A floating-point field, written as a JSON number (a string when not finite).
    public static func double(_ v: Double) -> Self { .stringConvertible(v) }
}

extension Logger {
    /// A logger for `role` that writes JSON lines through `JSONLogHandler`.
    public static func sentinel(
        role: String, level: Logger.Level = .info, timestamps: Bool = true, output: JSONLogHandler.Output = .fd(2)
    ) -> Logger {
        Logger(label: "sentinel." + role) { _ in JSONLogHandler(role: role, level: level, timestamps: timestamps, output: output) }
    }

    /// Logs one lifecycle event at a level named as in the configuration ("info", "warn", "error").
    public func emit(_ level: String, _ event: String, _ metadata: Logger.Metadata = [:]) {
        log(level: JSONLogHandler.level(named: level), "\(event)", metadata: metadata)
    }
}
