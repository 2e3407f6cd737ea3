import KDL

#if canImport(Glibc)
import Glibc
#endif

/// Where a master keeps its control socket and pid file, derived from the configuration alone, so
/// `sentinel-stack status|reload|stop --config FILE` finds the master that `up --config FILE` started.
///
/// `system { runtime-directory "…" }` wins. Otherwise: `/run/sentinel-stack/<name>-<hash>` for
/// root, `$XDG_RUNTIME_DIR/sentinel-stack/<name>-<hash>` or `/tmp/sentinel-stack-<uid>/<name>-<hash>`
/// for other users, where `<name>` is the config file's base name and `<hash>` a hash of its
/// real path: two instances with different configurations never share a directory.
public struct RuntimeDirectory: Sendable, Equatable {
    public var path: String

    public init(path: String) { self.path = path }

    public var socketPath: String { path + "/control.sock" }
    public var pidPath: String { path + "/sentinel-stack.pid" }

    /// Only the `runtime-directory` setting is read, straight from the KDL syntax tree: a client
    /// must find a running master even when the file on disk no longer validates (the usual
    /// reason to run `reload` is an edited file, which may be broken).
    public static func resolve(configPath: String, environment: [String: String]) -> RuntimeDirectory {
        if let configured = configuredPath(configPath) { return RuntimeDirectory(path: configured) }
        return defaultFor(configPath: configPath, uid: getuid(), environment: environment)
    }

    static func configuredPath(_ configPath: String) -> String? {
        let fd = open(configPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < 64 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
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
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let real = realpath(configPath, &resolved) != nil
            ? String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : configPath
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in real.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var name = String(real.split(separator: "/").last ?? "sentinel")
        if name.hasSuffix(".kdl") { name.removeLast(4) }
        let hex = String(hash >> 32, radix: 16)
        let base: String
        if uid == 0 {
            base = "/run/sentinel-stack"
        } else if let xdg = environment["XDG_RUNTIME_DIR"], !xdg.isEmpty {
            base = xdg + "/sentinel-stack"
        } else {
            base = "/tmp/sentinel-stack-\(uid)"
        }
        return RuntimeDirectory(path: "\(base)/\(name)-\(hex)")
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
