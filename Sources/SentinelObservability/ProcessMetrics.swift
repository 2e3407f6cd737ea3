#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` metrics of one process (the names every Prometheus client library
/// exports), read from `/proc/self`.
///
/// It exists so `sentinel`, each `sentinel-stack` worker and the master export the same
/// families with the same meaning: CPU time, resident and virtual memory, open and maximum file
/// descriptors, and the start time. Reading is one pass over a few small `/proc` files, done
/// only when metrics are rendered for a scrape (never on the request path). Formatting is a pure
/// function of a `ProcessMetrics` value, so it is tested without a process.
public struct ProcessMetrics: Sendable, Equatable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    public var residentBytes: Double
    public var virtualBytes: Double
    public var openFDs: Double
    /// The soft `RLIMIT_NOFILE`.
    public var maxFDs: Double
    /// Unix time the process started, in seconds.
    public var startTimeSeconds: Double

    public init(cpuSeconds: Double, residentBytes: Double, virtualBytes: Double, openFDs: Double, maxFDs: Double, startTimeSeconds: Double) {
        self.cpuSeconds = cpuSeconds
        self.residentBytes = residentBytes
        self.virtualBytes = virtualBytes
        self.openFDs = openFDs
        self.maxFDs = maxFDs
        self.startTimeSeconds = startTimeSeconds
    }

    /// The names of the families `render` writes (the master keeps them per process).
    public static let familyNames = [
        "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
        "process_open_fds", "process_max_fds", "process_start_time_seconds",
    ]

    /// This process, now; nil where `/proc/self/stat` cannot be read (not Linux).
    public static func current() -> ProcessMetrics? {
        guard let stat = readFile("/proc/self/stat"), let fields = statFields(stat) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        guard ticks > 0, page > 0 else { return nil }
        var limit = rlimit()
        let maxFDs = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : 0
        let boot = readFile("/proc/stat").flatMap(bootTime) ?? 0
        return ProcessMetrics(
            cpuSeconds: (fields.utime + fields.stime) / ticks, residentBytes: fields.rssPages * page,
            virtualBytes: fields.vsize, openFDs: Double(countOpenFDs()), maxFDs: maxFDs,
            startTimeSeconds: boot + fields.startTicks / ticks)
    }

    /// The fields of `/proc/<pid>/stat` that the metrics use. The command name (field 2) may hold
    /// spaces and parentheses: fields are counted from its last `)`.
    public static func statFields(_ text: String) -> (utime: Double, stime: Double, startTicks: Double, vsize: Double, rssPages: Double)? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // After ")": field 3 (state) onwards.
        let rest = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // Field n is rest[n - 3].
        func field(_ n: Int) -> Double? { rest.count > n - 3 ? Double(rest[n - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24)
        else { return nil }
        return (utime, stime, start, vsize, rss)
    }

    /// `btime` of `/proc/stat`: the boot time in Unix seconds.
    public static func bootTime(_ text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingPrefix(" "))
        }
        return nil
    }

    static func countOpenFDs() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var n = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { n += 1 }
        }
        // The directory stream's own descriptor is not one of the process's.
        return max(0, n - 1)
    }

    /// At most a little over 1 MiB (the files read are /proc/self/stat and /proc/stat).
    static func readFile(_ path: String) -> String? {
        readWholeFile(path, limit: (1 << 20) + 1).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Exposition text of the six families. `labels` is inserted as is inside braces on every
    /// sample (`role="master"`); empty: no labels. `headers: false` writes samples only (the
    /// master adds several processes under one set of `# HELP`/`# TYPE` lines).
    public func render(labels: String = "", headers: Bool = true) -> String {
        let braces = labels.isEmpty ? "" : "{" + labels + "}"
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: Double) {
            if headers { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
            out += name + braces + " " + Self.number(value) + "\n"
        }
        family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSeconds)
        family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentBytes)
        family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtualBytes)
        family("process_open_fds", "gauge", "Number of open file descriptors.", openFDs)
        family("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFDs)
        family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", startTimeSeconds)
        return out
    }

    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
