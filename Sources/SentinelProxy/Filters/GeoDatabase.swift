import CMaxMindDB
import Dispatch
import Glibc
public import Logging
import SentinelObservability
import Synchronization

/// One opened MaxMind database (`.mmdb`, memory-mapped by libmaxminddb). Immutable once open:
/// lookups from any thread; closed when the last reference goes (a reload swaps in a new one
/// while requests still holding the old finish their lookups on it).
final class GeoDatabase: @unchecked Sendable {
    private let handle: OpaquePointer
    /// The database's `database_type` metadata (e.g. "GeoLite2-Country").
    let type: String

    /// What a lookup found.
    enum Lookup: Equatable, Sendable {
        /// The record's `country.iso_code` (two upper-case letters as the database has them).
        case country(String)
        /// No record for the address, or a record without a country (a private range).
        case none
        /// The address cannot be looked up (an IPv6 address in an IPv4 database, a corrupt tree).
        case failed(String)
    }

    private init(handle: OpaquePointer) {
        self.handle = handle
        type = String(cString: sentinel_mmdb_type(handle))
    }

    deinit { sentinel_mmdb_close(handle) }

    /// Opens `path`; the error says why it cannot be (missing, unreadable, not a MaxMind database).
    static func open(_ path: String) -> Result<GeoDatabase, GeoSource.Unreadable> {
        var status: Int32 = 0
        guard let handle = sentinel_mmdb_open(path, &status) else {
            return .failure(GeoSource.Unreadable(path: path, reason: String(cString: sentinel_mmdb_strerror(status))))
        }
        return .success(GeoDatabase(handle: handle))
    }

    /// The country of `address` (IPv4 or IPv6 text). No allocation but the result's two letters.
    func lookup(_ address: String) -> Lookup {
        var out: (CChar, CChar) = (0, 0)
        let rc = withUnsafeMutableBytes(of: &out) { buf in
            sentinel_mmdb_country(handle, address, buf.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        switch rc {
        case 1:
            let a = UInt8(bitPattern: out.0), b = UInt8(bitPattern: out.1)
            guard Self.isLetter(a), Self.isLetter(b) else { return .none }
            return .country(String(decoding: [a & 0xDF, b & 0xDF], as: UTF8.self))
        case 0: return .none
        case -1: return .failed("\"\(address)\" is not an IP address")
        default: return .failed(String(cString: sentinel_mmdb_strerror(-rc - 2)))
        }
    }

    private static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
}

/// A `geo` filter's database file, kept current: opened when the snapshot is built, then checked
/// off the request path every `pollInterval` (the file's inode, size and modification time) and
/// reopened when it changed; the new database replaces the old at once (one pointer swap under a
/// lock). A reopen that fails keeps the database in service (a half-copied file does not turn
/// the filter off) and is logged; with no database at all every lookup fails, and the filter's
/// `on-failure` decides.
///
/// Replace the file atomically (write a new file, rename it over the old), as `geoipupdate`
/// does: libmaxminddb maps the file, and one rewritten in place changes under the lookups.
public final class GeoSource: @unchecked Sendable {
    /// Why the database cannot be used.
    public struct Unreadable: Error, Equatable, Sendable {
        public let path: String
        public let reason: String
        public var description: String { "GeoIP database \"\(path)\": \(reason)" }
    }

    private struct FileStamp: Equatable {
        var device: UInt64, inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int
    }

    private struct State {
        var database: GeoDatabase?
        var stamp: FileStamp?
        /// Why the last open failed (nil: the last open succeeded).
        var error: Unreadable?
        var reloads: UInt64 = 0
        var reloadFailures: UInt64 = 0
        var lookupFailures: UInt64 = 0
        var logger: Logger?
    }

    /// The filter's id (metric label, log field).
    public let id: String
    public let path: String
    private let state: Mutex<State>
    /// The watcher (a Dispatch timer; cancelled when the source goes with its snapshot).
    private let timer: any DispatchSourceTimer

    /// Opens `path` now and checks it every `pollInterval` from then on.
    public init(id: String, path: String, pollInterval: Duration = .seconds(1)) {
        self.id = id
        self.path = path
        var initial = State()
        initial.stamp = Self.stamp(path)
        switch GeoDatabase.open(path) {
        case .success(let db): initial.database = db
        case .failure(let e): initial.error = e
        }
        state = Mutex(initial)
        timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        let (s, a) = pollInterval.components
        let interval = DispatchTimeInterval.nanoseconds(Int(max(1_000_000, s * 1_000_000_000 + a / 1_000_000_000)))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(100))
        timer.setEventHandler { [weak self] in self?.check() }
        timer.resume()
    }

    deinit { timer.cancel() }

    /// The database in service; nil while none could be opened.
    var database: GeoDatabase? { state.withLock { $0.database } }

    /// Why the database cannot be opened (nil: it is in service).
    public var unreadable: Unreadable? { state.withLock { $0.database == nil ? $0.error : nil } }

    /// Attaches the process's log and logs the database's state once (the first open happened
    /// while the snapshot was built, before there was a log).
    public func attach(_ logger: Logger?) {
        let (error, type) = state.withLock { s in
            s.logger = logger
            return (s.database == nil ? s.error : nil, s.database?.type)
        }
        if let error {
            logger?.emit("warn", "geo_database_unreadable", ["filter": .string(id), "path": .string(path), "reason": .string(error.reason)])
        } else if let type {
            logger?.emit("info", "geo_database_loaded", ["filter": .string(id), "path": .string(path), "type": .string(type)])
        }
    }

    /// Reopens the file if it changed since the last look (the watcher calls this; so can tests).
    public func check() {
        let now = Self.stamp(path)
        let (changed, logger) = state.withLock { s in (s.stamp != now, s.logger) }
        guard changed else { return }
        let opened = now == nil ? .failure(Unreadable(path: path, reason: "the file is gone")) : GeoDatabase.open(path)
        let kept: Bool = state.withLock { s in
            s.stamp = now
            switch opened {
            case .success(let db):
                s.database = db
                s.error = nil
                s.reloads += 1
                return true
            case .failure(let e):
                s.error = e
                s.reloadFailures += 1
                return s.database != nil
            }
        }
        switch opened {
        case .success(let db):
            logger?.emit("info", "geo_database_reloaded", ["filter": .string(id), "path": .string(path), "type": .string(db.type)])
        case .failure(let e):
            logger?.emit("warn", "geo_database_reload_failed", [
                "filter": .string(id), "path": .string(path), "reason": .string(e.reason),
                "outcome": .string(kept ? "the previous database stays in service" : "no database: lookups fail (on-failure applies)"),
            ])
        }
    }

    /// A lookup failed (counted for the metrics).
    func lookupFailed() { state.withLock { $0.lookupFailures += 1 } }

    /// Whether a database is in service, reloads (ok, failed) and failed lookups.
    var counters: (loaded: Bool, reloads: UInt64, reloadFailures: UInt64, lookupFailures: UInt64) {
        state.withLock { ($0.database != nil, $0.reloads, $0.reloadFailures, $0.lookupFailures) }
    }

    private static func stamp(_ path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                         seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec)
    }
}

/// The geo filters' databases of the snapshot in service, for the metrics scrape.
public final class GeoMetrics: Sendable {
    private let sources = Mutex<[GeoSource]>([])
    private let logger = Mutex<Logger?>(nil)

    public init() {}

    public func setLogger(_ l: Logger?) { logger.withLock { $0 = l } }

    /// The sources of the snapshot now in service (a reload replaces them); each logs its
    /// database's state once and its reloads from then on.
    public func install(_ list: [GeoSource]) {
        let l = logger.withLock { $0 }
        let fresh = sources.withLock { old in
            let known = Set(old.map(ObjectIdentifier.init))
            old = list
            return list.filter { !known.contains(ObjectIdentifier($0)) }
        }
        for s in fresh { s.attach(l) }
    }

    func render() -> String {
        let list = sources.withLock { $0 }.map { (MetricsRegistry.labelValue($0.id), $0.counters) }
        guard !list.isEmpty else { return "" }
        var out = "# HELP sentinel_geo_database_loaded Whether the geo filter has a database in service (1) or every lookup fails (0).\n"
        out += "# TYPE sentinel_geo_database_loaded gauge\n"
        for (f, c) in list { out += "sentinel_geo_database_loaded{filter=\(f)} \(c.loaded ? 1 : 0)\n" }
        out += "# HELP sentinel_geo_database_reloads_total Reopens of a geo filter's database after its file changed, by result.\n"
        out += "# TYPE sentinel_geo_database_reloads_total counter\n"
        for (f, c) in list {
            out += "sentinel_geo_database_reloads_total{filter=\(f),result=\"ok\"} \(c.reloads)\n"
            out += "sentinel_geo_database_reloads_total{filter=\(f),result=\"failed\"} \(c.reloadFailures)\n"
        }
        out += "# HELP sentinel_geo_lookup_failures_total Lookups that failed (no database, or an address the database cannot answer).\n"
        out += "# TYPE sentinel_geo_lookup_failures_total counter\n"
        for (f, c) in list { out += "sentinel_geo_lookup_failures_total{filter=\(f)} \(c.lookupFailures)\n" }
        return out
    }
}
