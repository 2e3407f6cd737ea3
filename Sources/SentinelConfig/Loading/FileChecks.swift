#if canImport(Glibc)
import Glibc
#endif

/// The checks of `sentinel validate` that need the file system: certificate, key and CA files
/// exist and hold PEM blocks of the right kind with well-formed DER inside; directories exist.
public enum FileChecks {
    public struct Report: Sendable {
        public var lines: [String] = []
        public var failures = 0

        mutating func ok(_ s: String) { lines.append("✓ " + s) }
        mutating func fail(_ s: String) { lines.append("✗ " + s); failures += 1 }
    }

    enum PEMKind {
        case certificate, privateKey, crl

        var labels: [String] {
            switch self {
            case .certificate: return ["CERTIFICATE"]
            case .privateKey: return ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]
            case .crl: return ["X509 CRL"]
            }
        }
    }

    public static func run(_ config: SentinelConfiguration, certificates: Bool, agents: Bool) -> Report {
        var report = Report()
        var listeners = config.listeners
        var routes = config.routes
        var upstreams = config.upstreams
        var agentList = config.agents
        for ns in config.namespaces {
            listeners += ns.listeners; routes += ns.routes; upstreams += ns.upstreams; agentList += ns.agents
            for s in ns.services { listeners += s.listeners; routes += s.routes; upstreams += s.upstreams; agentList += s.agents }
        }
        if certificates {
            for l in listeners {
                guard let tls = l.tls else { continue }
                let what = "listener \"\(l.id)\""
                if let c = tls.certFile { check(c, .certificate, what + " cert-file", &report) }
                if let k = tls.keyFile { check(k, .privateKey, what + " key-file", &report) }
                if let ca = tls.caFile { check(ca, .certificate, what + " ca-file", &report) }
                if let crl = tls.crlFile { check(crl, .crl, what + " crl-file", &report) }
                for sni in tls.sni {
                    if let c = sni.certFile { check(c, .certificate, what + " sni cert-file", &report) }
                    if let k = sni.keyFile { check(k, .privateKey, what + " sni key-file", &report) }
                }
                // DER, checked against its certificate by the certificate checks.
                for (file, _) in tls.ocspFiles {
                    switch IncludeExpander.readFile(file) {
                    case .failure(let reason): report.fail("\(what) ocsp-file: cannot read \(file): \(reason)")
                    case .success(let bytes) where bytes.isEmpty: report.fail("\(what) ocsp-file: \(file) is empty")
                    case .success: report.ok("\(what) ocsp-file: \(file)")
                    }
                }
            }
            for u in upstreams {
                guard let tls = u.tls else { continue }
                let what = "upstream \"\(u.id)\""
                if let c = tls.caCert { check(c, .certificate, what + " ca-cert", &report) }
                if let c = tls.clientCert { check(c, .certificate, what + " client-cert", &report) }
                if let k = tls.clientKey { check(k, .privateKey, what + " client-key", &report) }
            }
        }
        for r in routes {
            if let root = r.staticFiles?.root {
                if isDirectory(root) { report.ok("route \"\(r.id)\" static-files root \(root) is a directory") }
                else { report.fail("route \"\(r.id)\" static-files root \(root) is not a directory") }
            }
        }
        if agents {
            for a in agentList {
                guard case .unixSocket(let path) = a.transport else { continue }
                let dir = IncludeExpander.directory(of: path)
                if isDirectory(dir) { report.ok("agent \"\(a.id)\" socket directory \(dir) exists") }
                else { report.fail("agent \"\(a.id)\" socket directory \(dir) does not exist") }
            }
        }
        return report
    }

    /// The log files the data plane opens at start (`access-log`; `error-log` and `audit-log` too
    /// once they are supported): each file's directory exists, and the file (or, when it does
    /// not exist yet, its directory) is writable by this user, checked as `open` would be. Run by
    /// `sentinel test`, `validate` and `sentinel-stack check`, as `nginx -t` opens its logs: a
    /// configuration that passes does not fail later at start because of a log path.
    public static func logFiles(_ config: SentinelConfiguration) -> Report {
        var report = Report()
        let logging = config.observability.logging
        var files: [(String, String)] = []
        if let a = logging.accessLog, a.enabled { files.append(("access-log", a.file)) }
        if let e = logging.errorLog, e.enabled { files.append(("error-log", e.file)) }
        if let a = logging.auditLog, a.enabled { files.append(("audit-log", a.file)) }
        for (what, name) in files {
            // A relative path is opened after `working-directory` took effect.
            var file = name
            if !file.hasPrefix("/"), let wd = config.system.workingDirectory { file = wd + "/" + file }
            if let problem = logFileProblem(file) { report.fail("\(what) file \(file): \(problem)") }
            else { report.ok("\(what) file \(file) is writable") }
        }
        return report
    }

    /// nil when `path` can be opened for appending (or created) by this process.
    static func logFileProblem(_ path: String) -> String? {
        let dir = IncludeExpander.directory(of: path)
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return "is a directory" }
            return access(path, W_OK) == 0 ? nil : "not writable: \(String(cString: strerror(errno)))"
        }
        guard stat(dir, &st) == 0 else { return "directory \(dir) does not exist" }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return "\(dir) is not a directory" }
        return access(dir, W_OK | X_OK) == 0 ? nil : "cannot create the file in \(dir): \(String(cString: strerror(errno)))"
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func check(_ path: String, _ kind: PEMKind, _ what: String, _ report: inout Report) {
        switch IncludeExpander.readFile(path) {
        case .failure(let reason):
            report.fail("\(what): cannot read \(path): \(reason)")
        case .success(let bytes):
            switch pemProblem(bytes, kind) {
            case nil: report.ok("\(what): \(path)")
            case let problem?: report.fail("\(what): \(path): \(problem)")
            }
        }
    }

    /// nil when the text holds at least one PEM block of `kind` whose base64 decodes to DER.
    static func pemProblem(_ bytes: [UInt8], _ kind: PEMKind) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return "not a text (PEM) file" }
        var found = 0
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }[...]
        while let line = lines.first {
            lines = lines.dropFirst()
            guard line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") else { continue }
            let label = String(line.dropFirst(11).dropLast(5))
            var body = ""
            var closed = false
            while let l = lines.first {
                lines = lines.dropFirst()
                if l == "-----END \(label)-----" { closed = true; break }
                if l.contains(":") { continue }  // RFC 1421 headers of legacy encrypted keys
                body += l
            }
            guard closed else { return "PEM block \"\(label)\" is not terminated" }
            guard kind.labels.contains(label) else {
                if label == "ENCRYPTED PRIVATE KEY" { return "the private key is encrypted; Sentinel needs an unencrypted key" }
                continue
            }
            guard let der = Base64.decode(body), der.count > 2, der[0] == 0x30 else {
                return "PEM block \"\(label)\" does not contain valid DER data"
            }
            found += 1
        }
        if found == 0 {
            switch kind {
            case .certificate: return "no \"BEGIN CERTIFICATE\" block found"
            case .privateKey: return "no \"BEGIN PRIVATE KEY\" block found"
            case .crl: return "no \"BEGIN X509 CRL\" block found"
            }
        }
        return nil
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

/// Standard base64 decoding (RFC 4648), strict about the alphabet.
enum Base64 {
    static func decode(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        var padding = 0
        for c in s.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): padding += 1; continue
            default: return nil
            }
            if padding > 0 { return nil }
            buffer = (buffer << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return padding <= 2 ? out : nil
    }
}
