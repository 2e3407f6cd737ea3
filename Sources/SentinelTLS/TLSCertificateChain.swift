internal import COpenSSL
internal import CSentinelTLS
internal import SentinelFormat

/// A certificate chain (leaf first) and its private key, parsed from PEM bytes. Immutable; the
/// X509 and EVP_PKEY objects are reference-counted by OpenSSL and only read after loading, so
/// one chain may back the contexts of any number of threads.
public final class TLSCertificateChain: @unchecked Sendable {
    /// X509*, leaf first, as given.
    let certificates: [OpaquePointer]
    /// EVP_PKEY*.
    let privateKey: OpaquePointer
    /// Where the bytes came from, for diagnostics ("/etc/sentinel/site.pem").
    public let source: String
    /// The leaf, then the rest of the chain as given.
    public let info: [TLSCertificateInfo]
    public var leaf: TLSCertificateInfo { info[0] }

    /// Parses a PEM chain and a PEM key. Throws `.certificate` for bytes that do not parse;
    /// everything else (key mismatch, order, expiry, names) is reported by `check`.
    public init(certificatePEM: [UInt8], keyPEM: [UInt8], source: String = "certificate") throws(TLSError) {
        let certs = try readCertificates(pem: certificatePEM, what: source)
        let key: OpaquePointer
        do {
            key = try readPrivateKey(pem: keyPEM, what: source + " key")
        } catch {
            for c in certs { X509_free(c) }
            throw error
        }
        certificates = certs
        privateKey = key
        self.source = source
        info = certs.map { TLSCertificateInfo($0) }
    }

    deinit {
        for c in certificates { X509_free(c) }
        EVP_PKEY_free(privateKey)
    }

    /// Installs the chain and its key on `ctx` (SSL_CTX*), checking first that the key belongs
    /// to the leaf; `refusal` says what OpenSSL refused when it does ("the client certificate").
    func install(on ctx: OpaquePointer, refusal: String) throws(TLSError) {
        guard keyMatchesCertificate else {
            throw TLSError(.certificate, "\(source): the private key does not belong to the certificate \(leaf.subject)")
        }
        let stack = OPENSSL_sk_new_null()
        defer { OPENSSL_sk_free(stack) }
        for extra in certificates.dropFirst() { _ = OPENSSL_sk_push(stack, UnsafeRawPointer(extra)) }
        guard SSL_CTX_use_cert_and_key(ctx, certificates[0], privateKey, stack, 1) == 1 else {
            throw TLSError.drain(.certificate, "\(source): OpenSSL refused \(refusal)")
        }
    }

    /// True when the private key belongs to the leaf certificate.
    public var keyMatchesCertificate: Bool {
        let ok = X509_check_private_key(certificates[0], privateKey) == 1
        ERR_clear_error()
        return ok
    }

    /// True when the leaf covers `name` (exact or through one of its wildcard SANs). A pattern
    /// `*.example.com` is covered only by the same wildcard SAN.
    public func covers(_ name: String) -> Bool {
        let lower = name.lowercased()
        if lower.hasPrefix("*.") { return leaf.dnsNames.contains(lower) }
        let ok = lower.withCString { X509_check_host(certificates[0], $0, lower.utf8.count, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS), nil) } == 1
        ERR_clear_error()
        return ok
    }

    /// Checks what `sentinel test`/`validate` reports: key match, chain order, validity (with a
    /// warning inside `expiryWarning` seconds), key strength, signature hash, and that each of
    /// `names` is covered. `now` is seconds since the epoch.
    public func check(names: [String] = [], now: Int64, expiryWarning: Int64 = 30 * 86_400) -> [TLSCertificateFinding] {
        var findings: [TLSCertificateFinding] = []
        func add(_ s: TLSCertificateFinding.Severity, _ c: TLSCertificateFinding.Code, _ m: String) {
            findings.append(TLSCertificateFinding(severity: s, code: c, message: m, source: source))
        }
        if !keyMatchesCertificate {
            add(.error, .keyMismatch, "the private key does not belong to the certificate \(leaf.subject)")
        }
        for i in 0..<(certificates.count - 1) where X509_check_issued(certificates[i + 1], certificates[i]) != X509_V_OK {
            add(.error, .chainOrder,
                "certificate \(i + 2) (\(info[i + 1].subject)) did not issue certificate \(i + 1) (\(info[i].subject)); give the leaf first, then each issuer")
        }
        ERR_clear_error()
        if certificates.count > 1, info.last!.isSelfIssued {
            add(.warning, .rootInChain, "the chain ends with the self-signed root \(info.last!.subject); clients have it, serving it wastes bytes")
        }
        if info[0].isCA {
            add(.warning, .leafIsCA, "the leaf certificate \(leaf.subject) is a CA certificate")
        }
        for (i, c) in info.enumerated() {
            let which = i == 0 ? "the certificate \(c.subject)" : "chain certificate \(i + 1) (\(c.subject))"
            if c.notAfter <= now {
                add(.error, .expired, "\(which) expired at \(formatUTC(c.notAfter))")
            } else if c.notBefore > now {
                add(.error, .notYetValid, "\(which) is not valid before \(formatUTC(c.notBefore))")
            } else if c.notAfter - now < expiryWarning {
                add(.warning, .expiresSoon, "\(which) expires at \(formatUTC(c.notAfter)), in \((c.notAfter - now) / 86_400) days")
            }
        }
        if leaf.keyType == "RSA", leaf.keyBits < 2048 {
            add(.error, .weakKey, "RSA key of \(leaf.keyBits) bits; use at least 2048")
        } else if leaf.keyType == "EC", leaf.keyBits < 256 {
            add(.error, .weakKey, "EC key of \(leaf.keyBits) bits; use P-256 or larger")
        }
        let sig = leaf.signatureAlgorithm.lowercased()
        if sig.contains("sha1") || sig.contains("md5") {
            add(.error, .weakSignature, "the certificate is signed with \(leaf.signatureAlgorithm)")
        }
        if leaf.dnsNames.isEmpty {
            add(.warning, .noDNSNames, "the certificate has no DNS subjectAltName; clients ignore the common name")
        }
        for name in names where !covers(name) {
            add(.error, .nameNotCovered, "the certificate does not cover \"\(name)\" (it names \(leaf.dnsNames.joined(separator: ", ")))")
        }
        return findings
    }

    /// Parses and checks in one step, turning parse failures into findings: what a validator
    /// calls for each configured certificate.
    public static func validate(certificatePEM: [UInt8], keyPEM: [UInt8], source: String, names: [String] = [], now: Int64) -> [TLSCertificateFinding] {
        do {
            let chain = try TLSCertificateChain(certificatePEM: certificatePEM, keyPEM: keyPEM, source: source)
            return chain.check(names: names, now: now)
        } catch {
            return [TLSCertificateFinding(severity: .error, code: .unreadable, message: error.description, source: source)]
        }
    }
}

/// One result of checking a certificate chain.
public struct TLSCertificateFinding: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable { case error, warning }
    public enum Code: String, Sendable, Hashable {
        case unreadable, keyMismatch, chainOrder, rootInChain, leafIsCA, expired, notYetValid, expiresSoon
        case weakKey, weakSignature, noDNSNames, nameNotCovered
        case ocspUnusable, ocspRevoked, ocspUnknown, ocspExpired, ocspExpiresSoon, ocspNotYetValid
    }
    public var severity: Severity
    public var code: Code
    public var message: String
    public var source: String

    public var description: String { "\(source): \(severity.rawValue): \(message)" }
}

/// "2026-12-03 12:00:00 UTC".
func formatUTC(_ seconds: Int64) -> String {
    let t = CivilTime(unixSeconds: seconds)
    func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(t.year)-\(two(t.month))-\(two(t.day)) \(two(t.hour)):\(two(t.minute)):\(two(t.second)) UTC"
}
