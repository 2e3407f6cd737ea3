public import SentinelConfig
import KDL
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
            var certs: [(cert: String?, key: String?, names: [String], ocsp: String?, ocspAt: KDLSourceLocation?)] = [
                (tls.certFile, tls.keyFile, [], tls.ocspFile, tls.ocspFileLocation)
            ]
            certs += tls.sni.map { ($0.certFile, $0.keyFile, $0.hostnames, $0.ocspFile, $0.ocspFileLocation) }
            func report(_ findings: [TLSCertificateFinding], _ what: String) {
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
            for c in certs {
                guard let cert = c.cert, let key = c.key,
                      let certBytes = try? ListenerTLSBuilder.read(cert, "cert-file"),
                      let keyBytes = try? ListenerTLSBuilder.read(key, "key-file")
                else { continue }
                let what = "listener \"\(l.id)\" certificate \(cert)"
                let findings = TLSCertificateChain.validate(certificatePEM: certBytes, keyPEM: keyBytes, source: cert, names: c.names, now: now)
                if findings.isEmpty { lines.append("✓ \(what): key matches, chain in order, valid, names covered") }
                report(findings, what)
                // The OCSP response: for this certificate, good, not expired (a warning within a day).
                if let ocsp = c.ocsp, let der = try? ListenerTLSBuilder.read(ocsp, "ocsp-file"),
                   let chain = try? TLSCertificateChain(certificatePEM: certBytes, keyPEM: keyBytes, source: cert) {
                    let at = c.ocspAt.map { "\($0.file):\($0.line):\($0.column): " } ?? ""
                    let ocspWhat = "\(at)listener \"\(l.id)\" ocsp-file \(ocsp)"
                    let ocspFindings = chain.checkOCSPResponse(der, source: ocsp, now: now)
                    if ocspFindings.isEmpty { lines.append("✓ \(ocspWhat): a good status for \(cert), not expired") }
                    report(ocspFindings, ocspWhat)
                }
            }
            // Client CAs and CRLs parse (the snapshot would refuse them).
            if let ca = tls.caFile, tls.clientAuth != .none, let caBytes = try? ListenerTLSBuilder.read(ca, "ca-file") {
                let crlBytes = tls.crlFile.flatMap { try? ListenerTLSBuilder.read($0, "crl-file") }
                do {
                    let trust = try TLSTrustStore(caPEM: caBytes, crlPEM: crlBytes, source: ca, verifyDepth: tls.verifyDepth)
                    let crl = trust.hasCRLs ? " with the CRLs of \(tls.crlFile ?? "")" : ""
                    lines.append("✓ listener \"\(l.id)\" client certificates: \(tls.clientAuth.rawValue), \(trust.caCertificates.count) CA(s) from \(ca)\(crl)")
                } catch {
                    lines.append("✗ listener \"\(l.id)\" client CA/CRL: \(error)")
                    failures += 1
                }
            }
        }
        return (lines, failures)
    }
}
