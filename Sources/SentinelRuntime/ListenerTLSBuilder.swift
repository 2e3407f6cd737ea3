public import SentinelConfig
public import SentinelProxy
public import SentinelTLS
import KDL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An HTTPS listener's `tls { … }` → its `TLSContextSet` (one `SSL_CTX` per certificate), built
/// once per snapshot.
///
/// It exists so certificates are read and checked like the rest of the configuration: a file
/// that cannot be read, a PEM that does not parse or a key that does not match its certificate
/// fails the snapshot build with the listener and file named, so a reload is refused and the
/// running generation keeps serving.
public enum ListenerTLSBuilder {
    /// Largest certificate, key or CA file read (a chain of a few certificates is a few KiB).
    static let maxFileBytes = 1 << 20

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The listener's TLS, or nil for a plain HTTP listener.
    public static func build(_ l: ListenerConfig, ticketKeys: TicketKeyRing?) throws(Failure) -> ListenerTLS? {
        guard l.proto == .https, let t = l.tls else { return nil }
        let what = "listener \"\(l.id)\" tls"
        do {
            var trust: TLSTrustStore?
            if let ca = t.caFile, t.clientAuth != .none {
                trust = try TLSTrustStore(
                    caPEM: read(ca, what + " ca-file"), crlPEM: try t.crlFile.map { try read($0, what + " crl-file") }, source: ca,
                    verifyDepth: t.verifyDepth)
            }
            let auth: TLSClientAuthentication
            switch (t.clientAuth, trust) {
            case (.required, let trust?): auth = .required(trust)
            case (.optional, let trust?): auth = .optional(trust)
            default: auth = .none
            }
            let now = Int64(time(nil))
            func chain(_ cert: String?, _ key: String?, ocsp: String?, at ocspAt: KDLSourceLocation?, _ label: String) throws -> TLSServerCertificate {
                guard let cert, let key else { throw Failure(description: "\(what): \(label) needs cert-file and key-file") }
                let c = try TLSCertificateChain(
                    certificatePEM: read(cert, "\(what) \(label) cert-file"), keyPEM: read(key, "\(what) \(label) key-file"),
                    source: cert)
                guard c.keyMatchesCertificate else {
                    throw Failure(description: "\(what): key-file \(key) does not match cert-file \(cert)")
                }
                guard let ocsp, t.ocspStapling != false else { return TLSServerCertificate(chain: c) }
                // Read with the snapshot, so a reload refreshes the staple; refused when it could
                // only mislead a client (another certificate, revoked, expired).
                let der = try read(ocsp, "\(what) \(label) ocsp-file")
                let at = ocspAt.map { "\($0.file):\($0.line):\($0.column): " } ?? ""
                for f in c.checkOCSPResponse(der, source: ocsp, now: now) where f.severity == .error {
                    throw Failure(description: "\(at)\(what): ocsp-file \(ocsp) for \(cert): \(f.message)")
                }
                return TLSServerCertificate(chain: c, ocspResponse: der)
            }
            var hosts = [TLSServerHost(
                certificates: [try chain(t.certFile, t.keyFile, ocsp: t.ocspFile, at: t.ocspFileLocation, "default certificate")],
                clientAuthentication: auth)]
            for s in t.sni {
                var host = TLSServerHost(
                    names: s.hostnames, certificates: [try chain(s.certFile, s.keyFile, ocsp: s.ocspFile, at: s.ocspFileLocation, "sni")],
                    clientAuthentication: auth)
                host.namesTakePriority = s.priority
                hosts.append(host)
            }
            var config = TLSServerConfiguration(listener: l.id, hosts: hosts)
            config.minVersion = version(t.minVersion)
            config.maxVersion = t.maxVersion.map(version)
            config.cipherSuites = t.cipherSuites
            config.sessionResumption = t.sessionResumption
            let set = try TLSContextSet(config, ticketKeys: t.sessionResumption ? ticketKeys : nil)
            return ListenerTLS(contexts: set, handshakeTimeout: l.requestTimeout)
        } catch let e as Failure {
            throw e
        } catch let e as TLSError {
            throw Failure(description: "\(what): \(e)")
        } catch {
            throw Failure(description: "\(what): \(error)")
        }
    }

    static func version(_ v: ListenerTLSConfig.TLSVersion) -> TLSVersion {
        switch v {
        case .tls12: .tls1_2
        case .tls13: .tls1_3
        }
    }

    /// The whole file, at most `maxFileBytes`.
    static func read(_ path: String, _ what: String) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw Failure(description: "\(what) \(path) cannot be read: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "\(what) \(path) cannot be read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= maxFileBytes else {
                throw Failure(description: "\(what) \(path) is larger than \(maxFileBytes) bytes")
            }
        }
        return bytes
    }
}
