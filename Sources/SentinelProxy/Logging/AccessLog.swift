import NIOCore
import SentinelObservability
import SentinelTLS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Access-log settings as the data plane uses them.
public struct AccessLogSettings: Sendable, Equatable {
    public enum Format: Sendable, Equatable {
        case json
        /// `ip - - [time] "request" status bytes "referer" "user-agent" trace_id Nms`
        case combined
        /// Common log format: `ip - - [time] "request" status bytes`
        case common
    }

    public var path: String
    public var format: Format
    public var bufferSize: Int
    public var includeTraceID: Bool
    public var sampleRate: Double
    public var sampleErrorsAlways: Bool

    public init(
        path: String, format: Format = .json, bufferSize: Int = 8192, includeTraceID: Bool = true,
        sampleRate: Double = 1.0, sampleErrorsAlways: Bool = true
    ) {
        self.path = path
        self.format = format
        self.bufferSize = max(0, min(bufferSize, 1 << 20))
        self.includeTraceID = includeTraceID
        self.sampleRate = sampleRate
        self.sampleErrorsAlways = sampleErrorsAlways
    }
}

/// One finished request, as the access log records it.
struct AccessRecord {
    var unixSeconds: Double
    var traceID: String
    var method: String
    var path: String
    var query: String
    var httpVersion: String
    var status: Int
    var bodyBytes: Int
    var durationSeconds: Double
    var clientIP: String
    var userAgent: String?
    var referer: String?
    var host: String
    var routeID: String?
    var upstream: String?
    var upstreamAddress: String?
    var upstreamAttempts: Int
    var connectionReused: Bool?
    /// The connection's TLS facts on an HTTPS listener (JSON format only).
    var tls: TLSConnectionFacts? = nil
    /// Why the request failed, for operators (`ProxyError.description`); nil: it did not.
    var error: String? = nil
}

/// The open access-log file, shared by every event loop of the process.
///
/// Lines are appended with `O_APPEND` in whole-line batches, each batch one write(2), so lines
/// from different event loops never interleave. `reopen()` supports log rotation.
public final class AccessLogFile: Sendable {
    public let path: String
    private let fd = Mutex<Int32>(-1)

    public init(path: String) throws(AccessLogError) {
        self.path = path
        let opened = Self.open(path)
        guard opened >= 0 else { throw AccessLogError(path: path, errno: errno) }
        fd.withLock { $0 = opened }
    }

    static func open(_ path: String) -> Int32 {
        Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
    }

    /// Appends `bytes` (whole lines) in one call.
    func append(_ bytes: UnsafeRawBufferPointer) {
        fd.withLock { writeAll(bytes, to: $0) }
    }

    /// Opens the path again (after logrotate moved the file) and closes the old descriptor.
    public func reopen() throws(AccessLogError) {
        let opened = Self.open(path)
        guard opened >= 0 else { throw AccessLogError(path: path, errno: errno) }
        let old = fd.withLock { fd -> Int32 in
            let old = fd
            fd = opened
            return old
        }
        if old >= 0 { close(old) }
    }

    deinit {
        let f = fd.withLock { $0 }
        if f >= 0 { close(f) }
    }
}

public struct AccessLogError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "cannot open access log \(path): \(String(cString: strerror(errno)))" }
}

/// An event loop's access-log buffer: lines accumulate and are written when the buffer fills,
/// at most a second later, and at shutdown.
final class AccessLogBuffer {
    private var buffer: ByteBuffer
    private var file: AccessLogFile?
    private let eventLoop: any EventLoop
    private var flushTask: Scheduled<Void>?
    private var random = FastRandom()

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        buffer = ByteBuffer()
    }

    /// Records one request if the settings' sampling keeps it.
    func record(_ r: AccessRecord, settings: AccessLogSettings, file: AccessLogFile) {
        if !(settings.sampleErrorsAlways && r.status >= 400), settings.sampleRate < 1 {
            let draw = Double(random.next() >> 11) / Double(1 << 53)
            if draw >= settings.sampleRate { return }
        }
        if self.file !== file {
            flush()
            self.file = file
        }
        switch settings.format {
        case .json: AccessLogFormatter.json(r, includeTraceID: settings.includeTraceID, into: &buffer)
        case .combined: AccessLogFormatter.combined(r, includeTraceID: settings.includeTraceID, into: &buffer)
        case .common: AccessLogFormatter.common(r, into: &buffer)
        }
        if buffer.readableBytes >= settings.bufferSize {
            flush()
        } else if flushTask == nil {
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            flushTask = eventLoop.scheduleTask(in: .seconds(1)) { bound.value.flush() }
        }
    }

    func flush() {
        flushTask?.cancel()
        flushTask = nil
        guard buffer.readableBytes > 0, let file else { return }
        buffer.withUnsafeReadableBytes { file.append($0) }
        buffer.clear()
    }
}

@available(*, unavailable)
extension AccessLogBuffer: Sendable {}
