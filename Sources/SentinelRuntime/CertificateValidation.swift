public import SentinelConfig
import KDL
import SentinelTLS

/// `sentinel validate`'s certificate checks beyond "the file holds PEM": for every HTTPS
/// listener certificate, the key matches, the chain is in order (each certificate issued by
/// the next), none is expired or not yet valid, none expires within 30 days (a warning), keys
/// and signatures are not weak, and the names written in `sni` blocks are covered. For every
/// upstream `tls` block: its `ca-cert` parses as a CA bundle, and its `client-cert` passes the
/// same checks as a listener certificate with its `client-key` (but no server names).
public enum CertificateValidation {
    /// One line per certificate: `✓` when nothing was found, `✗` per error, `!` per warning;
    /// `failures` counts the errors. Files that cannot be read are left to the PEM checks.
    public static func run(_ config: SentinelConfiguration, now: Int64) -> (lines: [String], failures: Int) {
        var listeners = config.listeners
        var upstreams = config.upstreams
        for ns in config.namespaces {
            listeners += ns.listeners
            upstreams += ns.upstreams
            for s in ns.services {
                listeners += s.listeners
                upstreams += s.upstreams
            }
        }
        var lines: [String] = []
        var failures = 0
        func report(_ what: String, _ findings: [TLSCertificateFinding], ok: String) {
            if findings.isEmpty { lines.append("✓ \(what): \(ok)") }
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
        for l in listeners {
            guard l.proto == .https, let tls = l.tls else { continue }
            var certs: [(cert: String?, key: String?, names: [String], ocsp: String?, ocspAt: KDLSourceLocation?)] = [
                (tls.certFile, tls.keyFile, [], tls.ocspFile, tls.ocspFileLocation)
            ]
            certs += tls.sni.map { ($0.certFile, $0.keyFile, $0.hostnames, $0.ocspFile, $0.ocspFileLocation) }
            for c in certs {
                guard let cert = c.cert, let key = c.key,
                      let certBytes = try? ListenerTLSBuilder.read(cert, "cert-file"),
                      let keyBytes = try? ListenerTLSBuilder.read(key, "key-file")
                else { continue }
                let what = "listener \"\(l.id)\" certificate \(cert)"
                let findings = TLSCertificateChain.validate(certificatePEM: certBytes, keyPEM: keyBytes, source: cert, names: c.names, now: now)
                report(what, findings, ok: "key matches, chain in order, valid, names covered")
                // The OCSP response: for this certificate, good, not expired (a warning within a day).
                if let ocsp = c.ocsp, let der = try? ListenerTLSBuilder.read(ocsp, "ocsp-file"),
                   let chain = try? TLSCertificateChain(certificatePEM: certBytes, keyPEM: keyBytes, source: cert) {
                    let at = c.ocspAt.map { "\($0.file):\($0.line):\($0.column): " } ?? ""
                    let ocspWhat = "\(at)listener \"\(l.id)\" ocsp-file \(ocsp)"
                    let ocspFindings = chain.checkOCSPResponse(der, source: ocsp, now: now)
                    report(ocspWhat, ocspFindings, ok: "a good status for \(cert), not expired")
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
        for u in upstreams {
            guard let tls = u.tls else { continue }
            if let ca = tls.caCert, let bytes = try? ListenerTLSBuilder.read(ca, "ca-cert") {
                let what = "upstream \"\(u.id)\" ca-cert \(ca)"
                do {
                    let store = try TLSTrustStore(caPEM: bytes, source: ca)
                    lines.append("✓ \(what): \(store.caCertificates.count) CA certificate\(store.caCertificates.count == 1 ? "" : "s")")
                } catch {
                    lines.append("✗ \(what): \(error.description)")
                    failures += 1
                }
            }
            guard let cert = tls.clientCert, let key = tls.clientKey,
                  let certBytes = try? ListenerTLSBuilder.read(cert, "client-cert"),
                  let keyBytes = try? ListenerTLSBuilder.read(key, "client-key")
            else { continue }
            // A client certificate names no server: DNS names are not its business.
            let findings = TLSCertificateChain.validate(certificatePEM: certBytes, keyPEM: keyBytes, source: cert, now: now)
                .filter { $0.code != .noDNSNames }
            report("upstream \"\(u.id)\" client-cert \(cert)", findings, ok: "key matches, chain in order, valid")
        }
        return (lines, failures)
    }
}

extension CertificateValidation {
    /// What `sentinel test` and `sentinel-stack check` report about TLS files: the errors a
    /// start would hit (files unreadable or of the wrong kind, certificates, client CAs, CRLs,
    /// OCSP responses) and the warnings, as text without the ✓/✗/! marks.
    public static func startProblems(_ config: SentinelConfiguration, now: Int64) -> (errors: [String], warnings: [String]) {
        let files = FileChecks.run(config, certificates: true, agents: false)
        let certs = run(config, now: now)
        let errors = (files.lines + certs.lines).filter { $0.hasPrefix("✗ ") }.map { String($0.dropFirst(2)) }
        let warnings = certs.lines.filter { $0.hasPrefix("! ") }.map { String($0.dropFirst(2)) }
        return (errors, warnings)
    }
}
