import KDL
public import SentinelConfig
import SentinelObservability

#if canImport(Glibc)
import Glibc
#endif

/// Where a master keeps its control socket and pid file, derived from the configuration alone, so
/// `sentinel-stack status|reload|stop --config FILE` finds the master that `up --config FILE` started.
///
/// In order: `system { runtime-directory "…" }`; `$RUNTIME_DIRECTORY` (systemd sets it from the
/// unit's `RuntimeDirectory=`; the first entry when there are several); otherwise
/// `/run/sentinel-stack/<name>-<hash>` for root, `$XDG_RUNTIME_DIR/sentinel-stack/<name>-<hash>` or
/// `/tmp/sentinel-stack-<uid>/<name>-<hash>` for other users, where `<name>` is the config file's
/// base name (`builtin-default` for the built-in configuration) and `<hash>` a hash of its real
/// path: two instances with different configurations never share a directory.
public struct RuntimeDirectory: Sendable, Equatable {
    public var path: String
    /// Where the path came from: a client that finds no master at a derived default also looks in
    /// `systemdDefault`, where the shipped unit's master lives.
    public var origin: Origin = .configured

    public enum Origin: Sendable, Equatable { case configured, environment, derived }

    public init(path: String, origin: Origin = .configured) {
        self.path = path
        self.origin = origin
    }

    public var socketPath: String { path + "/control.sock" }
    public var pidPath: String { path + "/sentinel-stack.pid" }

    /// The shipped unit's `RuntimeDirectory=sentinel`: an operator's shell has no
    /// `$RUNTIME_DIRECTORY`, so clients look here when the derived directory has no master.
    public static let systemdDefault = "/run/sentinel"

    /// Only the `runtime-directory` setting is read, straight from the KDL syntax tree: a client
    /// must find a running master even when the file on disk no longer validates (the usual
    /// reason to run `reload` is an edited file, which may be broken).
    public static func resolve(configPath: String, environment: [String: String]) -> RuntimeDirectory {
        resolve(source: .file(configPath), environment: environment)
    }

    public static func resolve(source: ConfigSource, environment: [String: String]) -> RuntimeDirectory {
        if case .file(let configPath) = source, let configured = configuredPath(configPath) {
            return RuntimeDirectory(path: configured, origin: .configured)
        }
        if let list = environment["RUNTIME_DIRECTORY"], let first = list.split(separator: ":").first, first.hasPrefix("/") {
            return RuntimeDirectory(path: String(first), origin: .environment)
        }
        switch source {
        case .file(let configPath): return defaultFor(configPath: configPath, uid: getuid(), environment: environment)
        case .builtinDefault: return defaultFor(name: "builtin-default", realPath: "", uid: getuid(), environment: environment)
        }
    }

    static func configuredPath(_ configPath: String) -> String? {
        guard let bytes = readWholeFile(configPath, limit: 64 << 20, chunk: 65536) else { return nil }
        guard let doc = try? KDLParser.parse(bytes: bytes, file: configPath) else { return nil }
        let systems = doc.nodes.filter { $0.name == "system" || $0.name == "server" }
        for node in systems.reversed() {
            if let dir = node.children.last(where: { $0.name == "runtime-directory" })?.arguments.first?.stringValue {
                return dir
            }
        }
        return nil
    }

    static func defaultFor(configPath: String, uid: uid_t, environment: [String: String]) -> RuntimeDirectory {
        let real = realPath(configPath) ?? configPath
        var name = String(real.split(separator: "/").last ?? "sentinel")
        if name.hasSuffix(".kdl") { name.removeLast(4) }
        return defaultFor(name: name, realPath: real, uid: uid, environment: environment)
    }

    /// The file's real path (symlinks and `..` resolved), nil when it does not exist.
    public static func realPath(_ path: String) -> String? {
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard realpath(path, &resolved) != nil else { return nil }
        return String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func defaultFor(name: String, realPath real: String, uid: uid_t, environment: [String: String]) -> RuntimeDirectory {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in real.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash >> 32, radix: 16)
        let base: String
        if uid == 0 {
            base = "/run/sentinel-stack"
        } else if let xdg = environment["XDG_RUNTIME_DIR"], !xdg.isEmpty {
            base = xdg + "/sentinel-stack"
        } else {
            base = "/tmp/sentinel-stack-\(uid)"
        }
        return RuntimeDirectory(path: "\(base)/\(name)-\(hex)", origin: .derived)
    }

    /// Creates the directory (and its parents) owner-only.
    public func create() throws(ControlError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw ControlError("cannot create runtime directory \(prefix): \(errorText())")
            }
        }
        guard path.utf8.count + 14 < 108 else {
            throw ControlError("runtime directory \(path) is too long for a unix socket path; set system { runtime-directory } to a shorter one")
        }
    }
}

extension KDLValue {
    fileprivate var stringValue: String? {
        if case .string(let s) = kind { return s }
        return nil
    }
}

/// A control-socket failure, with a message for the operator.
public struct ControlError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
