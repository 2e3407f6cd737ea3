internal import COpenSSL
internal import CSentinelTLS
internal import Glibc

// Small helpers around X509, EVP_PKEY and BIO pointers. Every pointer they return is owned by
// the caller's wrapper class; nothing here keeps one.

/// Reads every PEM certificate in `pem`, in order. Throws `.certificate` if there is none or
/// one does not parse.
func readCertificates(pem: [UInt8], what: String) throws(TLSError) -> [OpaquePointer] {
    ERR_clear_error()
    var certs: [OpaquePointer] = []
    let failed: Bool = pem.withUnsafeBytes { raw in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return true }
        defer { BIO_free(bio) }
        while let x = PEM_read_bio_X509(bio, nil, nil, nil) { certs.append(x) }
        // The loop ends on "no start line" at the end of input; anything else is a broken PEM.
        let last = ERR_peek_last_error()
        if last != 0, !(sentinel_tls_err_lib(last) == ERR_LIB_PEM && sentinel_tls_err_reason(last) == PEM_R_NO_START_LINE) {
            return true
        }
        ERR_clear_error()
        return false
    }
    if failed || certs.isEmpty {
        for c in certs { X509_free(c) }
        if !failed { throw TLSError(.certificate, "\(what): no PEM certificate found") }
        throw TLSError.drain(.certificate, "\(what): a certificate does not parse")
    }
    return certs
}

/// Reads one PEM private key (PKCS#8, RSA or EC). Encrypted keys are refused (no passphrase prompt).
func readPrivateKey(pem: [UInt8], what: String) throws(TLSError) -> OpaquePointer {
    ERR_clear_error()
    let key: OpaquePointer? = pem.withUnsafeBytes { raw in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
        defer { BIO_free(bio) }
        // A passphrase callback that refuses: an encrypted key fails instead of reading the terminal.
        return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
    }
    guard let key else { throw TLSError.drain(.certificate, "\(what): no usable PEM private key (encrypted keys are not supported)") }
    return key
}

/// Reads every PEM CRL in `pem`.
func readCRLs(pem: [UInt8], what: String) throws(TLSError) -> [OpaquePointer] {
    ERR_clear_error()
    var crls: [OpaquePointer] = []
    pem.withUnsafeBytes { raw in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return }
        defer { BIO_free(bio) }
        while let c = PEM_read_bio_X509_CRL(bio, nil, nil, nil) { crls.append(c) }
    }
    let last = ERR_peek_last_error()
    if crls.isEmpty || (last != 0 && !(sentinel_tls_err_lib(last) == ERR_LIB_PEM && sentinel_tls_err_reason(last) == PEM_R_NO_START_LINE)) {
        for c in crls { X509_CRL_free(c) }
        throw TLSError.drain(.certificate, "\(what): no usable PEM CRL")
    }
    ERR_clear_error()
    return crls
}

/// The text a memory BIO collected.
func drainMemoryBIO(_ bio: OpaquePointer) -> String {
    let pending = Int(BIO_ctrl_pending(bio))
    guard pending > 0 else { return "" }
    var buf = [UInt8](repeating: 0, count: pending)
    let n = buf.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(pending)) }
    return String(decoding: buf.prefix(max(0, Int(n))), as: UTF8.self)
}

/// An X509_NAME as RFC 2253 text ("CN=client-one,O=Example").
func nameString(_ name: OpaquePointer?) -> String {
    guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
    defer { BIO_free(bio) }
    _ = X509_NAME_print_ex(bio, name, 0, sentinel_tls_xn_flags_rfc2253())
    return drainMemoryBIO(bio)
}

/// Seconds since the epoch of an ASN1_TIME, or nil if it does not convert.
func epochSeconds(_ t: UnsafePointer<ASN1_TIME>?) -> Int64? {
    guard let t else { return nil }
    var parts = tm()
    guard ASN1_TIME_to_tm(t, &parts) == 1 else { return nil }
    return Int64(timegm(&parts))
}

/// Lower-case hex.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var s = ""
    for b in bytes { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
    return s
}

/// SHA-256 of arbitrary bytes.
func sha256(_ bytes: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    var len: UInt32 = 0
    bytes.withUnsafeBytes { raw in
        _ = EVP_Digest(raw.baseAddress, raw.count, &out, &len, EVP_sha256(), nil)
    }
    return out
}

/// The subjectAltName entries of a certificate.
struct SubjectAltNames: Sendable, Hashable {
    var dns: [String] = []
    var email: [String] = []
    var uri: [String] = []
    var ip: [String] = []

    var all: [String] { dns.map { "DNS:" + $0 } + ip.map { "IP:" + $0 } + email.map { "email:" + $0 } + uri.map { "URI:" + $0 } }
    var isEmpty: Bool { dns.isEmpty && email.isEmpty && uri.isEmpty && ip.isEmpty }
}

func readSubjectAltNames(_ cert: OpaquePointer) -> SubjectAltNames {
    var result = SubjectAltNames()
    guard let raw = X509_get_ext_d2i(cert, NID_subject_alt_name, nil, nil) else { return result }
    let stack = OpaquePointer(raw)
    defer { GENERAL_NAMES_free(stack) }
    let count = OPENSSL_sk_num(stack)
    guard count > 0 else { return result }
    for i in 0..<count {
        guard let entry = OPENSSL_sk_value(stack, i)?.assumingMemoryBound(to: GENERAL_NAME.self) else { continue }
        let type = entry.pointee.type
        // Every member of the union is an ASN1_STRING pointer for the types read here.
        guard let str = entry.pointee.d.ia5 else { continue }
        let len = Int(ASN1_STRING_length(str))
        guard len >= 0, len <= 1024, let data = ASN1_STRING_get0_data(str) else { continue }
        let bytes = UnsafeBufferPointer(start: data, count: len)
        switch type {
        case GEN_DNS: result.dns.append(String(decoding: bytes, as: UTF8.self))
        case GEN_EMAIL: result.email.append(String(decoding: bytes, as: UTF8.self))
        case GEN_URI: result.uri.append(String(decoding: bytes, as: UTF8.self))
        case GEN_IPADD:
            if len == 4 {
                result.ip.append(bytes.map { String($0) }.joined(separator: "."))
            } else if len == 16 {
                result.ip.append(stride(from: 0, to: 16, by: 2).map { i in
                    String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16)
                }.joined(separator: ":"))
            }
        default: break
        }
    }
    return result
}

/// What Sentinel reports about one X.509 certificate (a served chain member or a peer's).
public struct TLSCertificateInfo: Sendable, Hashable {
    /// RFC 2253 subject ("CN=www.example.com,O=Example").
    public var subject: String
    public var issuer: String
    /// subjectAltName entries, typed: "DNS:www.example.com", "IP:10.0.0.1", "email:…", "URI:…".
    public var subjectAltNames: [String]
    /// The DNS names alone, lower-cased.
    public var dnsNames: [String]
    /// Validity, seconds since the epoch.
    public var notBefore: Int64
    public var notAfter: Int64
    /// SHA-256 of the DER certificate, lower-case hex.
    public var sha256Fingerprint: String
    public var serialNumber: String
    /// "RSA", "EC", "Ed25519"…, and its size in bits.
    public var keyType: String
    public var keyBits: Int
    public var signatureAlgorithm: String
    public var isCA: Bool
    public var isSelfIssued: Bool

    init(_ cert: OpaquePointer) {
        subject = nameString(X509_get_subject_name(cert))
        issuer = nameString(X509_get_issuer_name(cert))
        let sans = readSubjectAltNames(cert)
        subjectAltNames = sans.all
        dnsNames = sans.dns.map { $0.lowercased() }
        notBefore = epochSeconds(X509_get0_notBefore(cert)) ?? 0
        notAfter = epochSeconds(X509_get0_notAfter(cert)) ?? 0
        var md = [UInt8](repeating: 0, count: 32)
        var mdLen: UInt32 = 0
        _ = X509_digest(cert, EVP_sha256(), &md, &mdLen)
        sha256Fingerprint = hex(md.prefix(Int(mdLen)))
        if let serial = X509_get0_serialNumber(cert), let bn = ASN1_INTEGER_to_BN(serial, nil) {
            if let text = BN_bn2hex(bn) {
                serialNumber = String(cString: text).lowercased()
                CRYPTO_free(text, #fileID, #line)
            } else {
                serialNumber = ""
            }
            BN_free(bn)
        } else {
            serialNumber = ""
        }
        if let key = X509_get0_pubkey(cert) {
            keyBits = Int(EVP_PKEY_get_bits(key))
            switch EVP_PKEY_get_base_id(key) {
            case EVP_PKEY_RSA: keyType = "RSA"
            case EVP_PKEY_EC: keyType = "EC"
            case EVP_PKEY_ED25519: keyType = "Ed25519"
            case EVP_PKEY_ED448: keyType = "Ed448"
            default: keyType = "other"
            }
        } else {
            keyBits = 0
            keyType = "none"
        }
        let nid = X509_get_signature_nid(cert)
        signatureAlgorithm = OBJ_nid2sn(nid).map { String(cString: $0) } ?? "unknown"
        isCA = X509_check_ca(cert) != 0
        isSelfIssued = X509_check_issued(cert, cert) == X509_V_OK
        ERR_clear_error()
    }
}
