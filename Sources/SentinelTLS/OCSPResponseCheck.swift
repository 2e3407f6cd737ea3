internal import COpenSSL
internal import CSentinelTLS

/// What a DER OCSP response says about one certificate (read by `TLSCertificateChain.inspectOCSPResponse`).
public struct TLSOCSPStatus: Sendable, Hashable {
    public enum CertificateStatus: String, Sendable, Hashable { case good, revoked, unknown }
    public var status: CertificateStatus
    /// thisUpdate and nextUpdate, seconds since the epoch (nil: the response gives none).
    public var thisUpdate: Int64
    public var nextUpdate: Int64?
}

extension TLSCertificateChain {
    /// The leaf's issuer when the chain carries it (the certificate after the leaf, if it
    /// issued it); nil for a leaf-only file.
    var issuerOfLeaf: OpaquePointer? {
        guard certificates.count > 1 else { return nil }
        let issued = X509_check_issued(certificates[1], certificates[0]) == X509_V_OK
        ERR_clear_error()
        return issued ? certificates[1] : nil
    }

    /// Reads the single response for this chain's leaf from a DER `OCSPResponse`. It matches by
    /// serial number and issuer-name hash, and by issuer-key hash too when the chain holds the
    /// issuer. Throws `.certificate` when the bytes do not parse, the response is not
    /// "successful", or it holds no response for the leaf. The signature is not verified here
    /// (clients verify it against the issuer they trust).
    public func inspectOCSPResponse(_ der: [UInt8]) throws(TLSError) -> TLSOCSPStatus {
        var facts = sentinel_tls_ocsp_facts()
        let rc = der.withUnsafeBufferPointer { buf in
            sentinel_tls_ocsp_inspect(buf.baseAddress, buf.count, certificates[0], issuerOfLeaf, &facts)
        }
        switch rc {
        case 0: break
        case 1: throw TLSError(.certificate, "not a DER OCSP response")
        case 2: throw TLSError(.certificate, "the OCSP response status is \(facts.response_status), not successful (0)")
        case 3: throw TLSError(.certificate, "the OCSP response is not a basic OCSP response")
        case 4: throw TLSError(.certificate, "the OCSP response is not for the certificate \(leaf.subject) (serial \(leaf.serialNumber))")
        default: throw TLSError(.certificate, "the OCSP response has a time that does not convert")
        }
        let status: TLSOCSPStatus.CertificateStatus = switch facts.cert_status {
        case 0: .good
        case 1: .revoked
        default: .unknown
        }
        return TLSOCSPStatus(status: status, thisUpdate: facts.this_update, nextUpdate: facts.next_update == 0 ? nil : facts.next_update)
    }

    /// Checks an OCSP response meant to be stapled with this chain: errors when it does not
    /// parse, is for another certificate, says "revoked" or has passed its nextUpdate; warnings
    /// when it says "unknown", is dated in the future, or its nextUpdate is within `expiryWarning`
    /// seconds. `now` is seconds since the epoch.
    public func checkOCSPResponse(_ der: [UInt8], source: String, now: Int64, expiryWarning: Int64 = 86_400) -> [TLSCertificateFinding] {
        var findings: [TLSCertificateFinding] = []
        func add(_ s: TLSCertificateFinding.Severity, _ c: TLSCertificateFinding.Code, _ m: String) {
            findings.append(TLSCertificateFinding(severity: s, code: c, message: m, source: source))
        }
        let status: TLSOCSPStatus
        do {
            status = try inspectOCSPResponse(der)
        } catch {
            add(.error, .ocspUnusable, error.context)
            return findings
        }
        switch status.status {
        case .good: break
        case .revoked: add(.error, .ocspRevoked, "the OCSP response says the certificate \(leaf.subject) is revoked")
        case .unknown: add(.warning, .ocspUnknown, "the OCSP response says the status of \(leaf.subject) is unknown")
        }
        if let next = status.nextUpdate {
            if next <= now {
                add(.error, .ocspExpired, "the OCSP response expired at \(formatUTC(next)) (its nextUpdate); fetch a fresh one and reload")
            } else if next - now < expiryWarning {
                add(.warning, .ocspExpiresSoon, "the OCSP response expires at \(formatUTC(next)), in \((next - now) / 3600) hours")
            }
        }
        if status.thisUpdate > now + 300 {
            add(.warning, .ocspNotYetValid, "the OCSP response is dated \(formatUTC(status.thisUpdate)), in the future")
        }
        return findings
    }
}
