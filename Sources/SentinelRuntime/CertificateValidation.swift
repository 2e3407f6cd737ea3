public import SentinelConfig
import SentinelTLS

/// `sentinel validate`'s certificate checks beyond "the file holds PEM": for every HTTPS
/// listener certificate, the key matches, the chain is in order (each certificate issued by
/// the next), none is expired or not yet valid, none expires within 30 days (a warning), keys
/// and signatures are not weak, and the names written in `sni` blocks are covered.
public enum CertificateValidation {
    /// One line per certificate: `✓` when nothing was found, `✗` per error, `!` per warning;
    /// `failures` counts the errors. Files that cannot be read are left to the PEM checks.
    public static func run(_ config: SentinelConfiguration, now: Int64) -> (lines: [String], failures: Int) {
        var listeners = config.listeners
        for ns in config.namespaces {
            listeners += ns.listeners
            for s in ns.services { listeners += s.listeners }
        }
        var lines: [String] = []
        var failures = 0
        for l in listeners {
            guard l.proto == .https, let tls = l.tls else { continue }
            var certs: [(cert: String?, key: String?, names: [String])] = [(tls.certFile, tls.keyFile, [])]
            certs += tls.sni.map { ($0.certFile, $0.keyFile, $0.hostnames) }
            for c in certs {
                guard let cert = c.cert, let key = c.key,
                      let certBytes = try? ListenerTLSBuilder.read(cert, "cert-file"),
                      let keyBytes = try? ListenerTLSBuilder.read(key, "key-file")
                else { continue }
                let what = "listener \"\(l.id)\" certificate \(cert)"
                let findings = TLSCertificateChain.validate(certificatePEM: certBytes, keyPEM: keyBytes, source: cert, names: c.names, now: now)
                if findings.isEmpty { lines.append("✓ \(what): key matches, chain in order, valid, names covered") }
                for f in findings {
                    switch f.severity {
                    case .error:
                        lines.append("✗ \(what): \(f.message)")
                        failures += 1
                    case .warning:
                        lines.append("! \(what): warning: \(f.message)")
                    }
                }
            }
        }
        return (lines, failures)
    }
}
