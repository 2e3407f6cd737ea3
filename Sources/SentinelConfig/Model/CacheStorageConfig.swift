import KDL

/// The global `cache { … }` block: storage shared by every route with `cache { enabled #true }`.
/// Without this block no route caches.
public struct CacheStorageConfig: Sendable, Hashable {
    public enum Backend: String, Sendable, Hashable {
        /// In-memory LRU (the default).
        case memory
        /// Sharded files under `disk-path`.
        case disk
        /// Memory in front of disk.
        case hybrid
    }

    /// `enabled`: true when the block is present.
    public var enabled = true
    /// `backend`: memory, disk or hybrid (disk and hybrid need `disk-path`).
    public var backend: Backend = .memory
    /// `max-size`: bytes of memory storage.
    public var maxSize: Int64 = 100 << 20
    /// `eviction-limit`: bytes at which eviction starts; default `max-size`.
    public var evictionLimit: Int64?
    /// `lock-timeout`: how long concurrent misses for one key wait for the first fetch (stampede lock).
    public var lockTimeout: Duration = .seconds(10)
    /// `disk-path`: directory of the disk tier.
    public var diskPath: String?
    /// `disk-shards`: number of disk shards.
    public var diskShards = 16
    /// `disk-max-size`: byte limit of the disk tier.
    public var diskMaxSize: Int64?
    /// `status-header`: add an RFC 9211 `Cache-Status` header.
    public var statusHeader = false
    /// `status-header-name`: the cache name in `Cache-Status`.
    public var statusHeaderName = "sentinel"

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> CacheStorageConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = CacheStorageConfig()
        c.enabled = r.bool("enabled", default: c.enabled)
        c.backend = r.choice("backend", default: c.backend, options: [("memory", .memory), ("disk", .disk), ("hybrid", .hybrid)])
        c.maxSize = r.size("max-size", "max-size-bytes", default: c.maxSize, range: 1...Int64.max)!
        c.evictionLimit = r.size("eviction-limit", range: 1...Int64.max)
        c.lockTimeout = r.duration("lock-timeout", "lock-timeout-secs", unit: .seconds, default: c.lockTimeout)!
        c.diskPath = r.string("disk-path")
        c.diskShards = r.int("disk-shards", default: c.diskShards, range: 1...4096)
        c.diskMaxSize = r.size("disk-max-size", range: 1...Int64.max)
        c.statusHeader = r.bool("status-header", default: c.statusHeader)
        if let name = r.locatedString("status-header-name") {
            if HTTPSyntax.isToken(name.value) { c.statusHeaderName = name.value } else {
                sink.error(name.location, r.path, "\"\(name.value)\" is not a valid Cache-Status cache name", hint: "use a token such as \"sentinel\"")
            }
        }
        if c.backend != .memory, c.diskPath == nil, !r.has("disk-path") {
            sink.error(r.locationOf("backend"), r.path, "backend \"\(c.backend.rawValue)\" needs \"disk-path\"", hint: "disk-path \"/var/cache/sentinel\"")
        }
        if c.backend == .memory {
            for key in ["disk-path", "disk-shards", "disk-max-size"] where r.has(key) {
                sink.error(r.locationOf(key), r.path, "\"\(key)\" has no effect with backend \"memory\"", hint: "add backend \"disk\" or \"hybrid\", or remove it")
            }
        }
        if let limit = c.evictionLimit, limit > c.maxSize {
            sink.error(r.locationOf("eviction-limit"), r.path, "eviction-limit (\(limit)) is larger than max-size (\(c.maxSize))")
        }
        r.finish()
        return c
    }
}
