import KDL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads a configuration from a file (following `include "glob"`) or from text, and returns
/// either a validated snapshot with its warnings, or every diagnostic at once.
/// Which program loads a configuration. A few settings are implemented by the process manager
/// only (`system { user; group }`, supervised agents): `sentinel-stack` accepts them, while
/// single-process `sentinel` rejects or warns about them instead of silently ignoring them.
public enum ConfigHost: Sendable {
    case proxy
    case stack
}

public enum ConfigLoader {
    /// A successful load: the snapshot plus warnings worth showing the operator.
    public struct Loaded: Sendable {
        public var config: SentinelConfiguration
        public var warnings: [ConfigDiagnostic]
    }

    /// Bounds that keep a hostile or broken include tree from exhausting the process.
    static let maxIncludeDepth = 16
    static let maxFiles = 1000
    static let maxFileBytes = 64 << 20

    public static func load(file path: String, host: ConfigHost = .proxy) -> Result<Loaded, ConfigError> {
        let sink = DiagnosticSink()
        sink.mainFile = path
        var expander = IncludeExpander(sink: sink)
        let nodes = expander.expand(file: path, includedFrom: nil)
        return finish(nodes: nodes, files: expander.files, sink: sink, host: host)
    }

    /// Loads configuration text with no file behind it (`include` is then an error).
    public static func load(text: String, file: String = "<config>", host: ConfigHost = .proxy) -> Result<Loaded, ConfigError> {
        let sink = DiagnosticSink()
        sink.mainFile = file
        do {
            let doc = try KDLParser.parse(text, file: file)
            return finish(nodes: doc.nodes, files: [file], sink: sink, host: host)
        } catch {
            sink.append(ConfigDiagnostic(at: error.location, path: "", syntaxMessage(error), hint: error.hint))
            return .failure(ConfigError(diagnostics: sink.sorted()))
        }
    }

    static func syntaxMessage(_ e: KDLError) -> String {
        "syntax error: \(e.message)" + (e.expected.map { "; expected \($0)" } ?? "")
    }

    static func finish(nodes: [KDLNode], files: [String], sink: DiagnosticSink, host: ConfigHost) -> Result<Loaded, ConfigError> {
        if !sink.hasErrors || !nodes.isEmpty {
            var config = DocumentReader(sink: sink).read(nodes)
            config.files = files
            Validator(sink: sink).validate(config)
            FeatureSupport.check(config, host: host, sink: sink)
            if !sink.hasErrors {
                return .success(Loaded(config: config, warnings: sink.sorted()))
            }
        }
        return .failure(ConfigError(diagnostics: sink.sorted()))
    }
}

/// Reads files and expands top-level `include "glob"` nodes in place: globs resolve relative to
/// the including file, matches are sorted, includes nest, and a cycle is an error.
struct IncludeExpander {
    let sink: DiagnosticSink
    private(set) var files: [String] = []
    private var stack: [String] = []

    init(sink: DiagnosticSink) { self.sink = sink }

    mutating func expand(file path: String, includedFrom: KDLNode?) -> [KDLNode] {
        let canonical = Self.realpath(path) ?? path
        if stack.contains(canonical) {
            if let from = includedFrom {
                sink.error(from.location, ConfigPath().appending(from), "include cycle: \(path) includes itself",
                           hint: "chain: " + (stack + [canonical]).joined(separator: " → "))
            }
            return []
        }
        if stack.count >= ConfigLoader.maxIncludeDepth, let from = includedFrom {
            sink.error(from.location, ConfigPath().appending(from), "includes nested more than \(ConfigLoader.maxIncludeDepth) deep")
            return []
        }
        if files.count >= ConfigLoader.maxFiles, let from = includedFrom {
            sink.error(from.location, ConfigPath().appending(from), "more than \(ConfigLoader.maxFiles) configuration files")
            return []
        }
        let bytes: [UInt8]
        switch Self.readFile(path) {
        case .success(let b): bytes = b
        case .failure(let reason):
            let at = includedFrom?.location ?? KDLSourceLocation(file: path, line: 1, column: 1)
            sink.error(at, includedFrom.map { ConfigPath().appending($0) } ?? ConfigPath(), "cannot read \(path): \(reason)",
                       hint: includedFrom == nil ? "pass the configuration with --config FILE or SENTINEL_CONFIG" : nil)
            return []
        }
        files.append(path)
        let doc: KDLDocument
        do {
            doc = try KDLParser.parse(bytes: bytes, file: path)
        } catch {
            sink.append(ConfigDiagnostic(at: error.location, path: "", ConfigLoader.syntaxMessage(error), hint: error.hint))
            return []
        }
        stack.append(canonical)
        defer { stack.removeLast() }
        var result: [KDLNode] = []
        for node in doc.nodes {
            guard node.name == "include" else {
                result.append(node)
                continue
            }
            let p = ConfigPath().appending(node)
            var r = NodeReader(node, path: p, sink: sink)
            let args = r.arguments()
            r.finish()
            if args.isEmpty { sink.error(node.location, p, "include needs a file or glob", hint: "write: include \"conf.d/*.kdl\"") }
            for arg in args {
                guard let pattern = ValueReader(sink: sink, path: p, key: "include").string(arg) else { continue }
                let base = Self.directory(of: path)
                let full = pattern.hasPrefix("/") ? pattern : base + "/" + pattern
                let matches = Self.glob(full)
                if matches.isEmpty {
                    if pattern.contains("*") || pattern.contains("?") || pattern.contains("[") {
                        sink.warning(arg.location, p, "include \"\(pattern)\" matches no file")
                    } else {
                        sink.error(arg.location, p, "include \"\(pattern)\": no such file (looked for \(full))")
                    }
                }
                for m in matches.sorted() {
                    result += expand(file: m, includedFrom: node)
                }
            }
        }
        return result
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func realpath(_ path: String) -> String? {
        guard let p = Glibc.realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var result: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { result.append(String(cString: p)) }
        }
        return result
    }

    enum ReadFailure: Error, CustomStringConvertible {
        case errno(Int32)
        case tooLarge
        case directory
        var description: String {
            switch self {
            case .errno(let e): return String(cString: strerror(e))
            case .tooLarge: return "file is larger than \(ConfigLoader.maxFileBytes) bytes"
            case .directory: return "it is a directory"
            }
        }
    }

    static func readFile(_ path: String) -> Result<[UInt8], ReadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.errno(errno)) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return .failure(.directory) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(.errno(errno))
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > ConfigLoader.maxFileBytes { return .failure(.tooLarge) }
        }
        return .success(out)
    }
}
