internal import COpenSSL
internal import CSentinelTLS

/// Bounds every engine enforces (BRIEF: every buffer has a bound with a safe default).
public struct TLSLimits: Sendable, Hashable {
    /// Ciphertext bytes an engine reads before its handshake completes; beyond it the handshake
    /// fails with `.handshakeTooLarge`. A ClientHello is a few hundred bytes; a client
    /// certificate chain a few KiB.
    public var maxHandshakeBytes: Int = 64 * 1024
    /// The largest certificate chain accepted from the peer (SSL_CTX_set_max_cert_list).
    public var maxPeerCertificateChainBytes: Int = 32 * 1024
    /// `send` stops taking plaintext while this many ciphertext bytes wait for the host.
    public var maxPendingOutput: Int = 256 * 1024

    public init() {}
}

/// What to do with an SNI name no certificate is configured for.
public enum UnknownServerNamePolicy: Sendable, Hashable {
    /// Serve the default certificate (what browsers and most servers expect).
    case useDefault
    /// Refuse the handshake with an `unrecognized_name` alert.
    case reject
}

/// CA certificates (and optional CRLs) that client or server certificates are verified against.
public final class TLSTrustStore: @unchecked Sendable {
    /// X509* CA certificates; immutable after init.
    let certificates: [OpaquePointer]
    /// X509_CRL*.
    let crls: [OpaquePointer]
    /// SHA-256 over the CA and CRL bytes and the depth: part of the resumption binding, so a
    /// ticket never resumes under another trust policy.
    let digest: [UInt8]
    public let source: String
    /// The most CA certificates allowed between a peer's certificate and a trusted CA
    /// (`SSL_CTX_set_verify_depth`): 0 means the peer's certificate must be issued by a CA of
    /// the bundle itself.
    public let verifyDepth: Int
    public var caCertificates: [TLSCertificateInfo] { certificates.map { TLSCertificateInfo($0) } }
    public var hasCRLs: Bool { !crls.isEmpty }

    /// CAs from a PEM bundle; CRLs from a PEM file (checked for every certificate of a chain when given).
    public init(caPEM: [UInt8], crlPEM: [UInt8]? = nil, source: String = "ca-file", verifyDepth: Int = 8) throws(TLSError) {
        guard (0...32).contains(verifyDepth) else { throw TLSError(.configuration, "\(source): verify depth \(verifyDepth) is outside 0...32") }
        self.verifyDepth = verifyDepth
        certificates = try readCertificates(pem: caPEM, what: source)
        do {
            crls = try crlPEM.map { pem throws(TLSError) in try readCRLs(pem: pem, what: source + " CRL") } ?? []
        } catch {
            for c in certificates { X509_free(c) }
            throw error
        }
        digest = sha256(caPEM + [0] + (crlPEM ?? []) + Array("\0depth:\(verifyDepth)".utf8))
        self.source = source
    }

    deinit {
        for c in certificates { X509_free(c) }
        for c in crls { X509_CRL_free(c) }
    }

    /// A new X509_STORE holding these CAs and CRLs (the caller owns it).
    func makeStore() -> OpaquePointer? {
        guard let store = X509_STORE_new() else { return nil }
        for c in certificates { _ = X509_STORE_add_cert(store, c) }
        for c in crls { _ = X509_STORE_add_crl(store, c) }
        if !crls.isEmpty { _ = sentinel_tls_store_enable_crl_check(store) }
        ERR_clear_error()
        return store
    }
}

/// Client-certificate policy of a host.
public enum TLSClientAuthentication: Sendable {
    /// No CertificateRequest.
    case none
    /// Ask for a certificate; one that is sent must verify, none is accepted.
    case optional(TLSTrustStore)
    /// A verified certificate is required.
    case required(TLSTrustStore)

    var trust: TLSTrustStore? {
        switch self {
        case .none: nil
        case .optional(let t), .required(let t): t
        }
    }

    /// Bytes naming the policy, for the resumption binding.
    var bindingBytes: [UInt8] {
        switch self {
        case .none: Array("none".utf8)
        case .optional(let t): Array("optional:".utf8) + t.digest
        case .required(let t): Array("required:".utf8) + t.digest
        }
    }
}

/// A certificate a host serves, with its OCSP staple.
public struct TLSServerCertificate: Sendable {
    public var chain: TLSCertificateChain
    /// A DER OCSPResponse stapled when the client asks (status_request); refreshed on reload.
    public var ocspResponse: [UInt8]?

    public init(chain: TLSCertificateChain, ocspResponse: [UInt8]? = nil) {
        self.chain = chain
        self.ocspResponse = ocspResponse
    }
}

/// One name (or set of names) with its certificates and client-certificate policy: one SSL_CTX.
public struct TLSServerHost: Sendable {
    /// Exact names and `*.example.com` wildcards (one label).
    public var names: [String]
    /// When false, names read from certificates (of any host) are tried before `names`: the
    /// config's `hostnames` versus `priority-hostnames`.
    public var namesTakePriority = true
    /// Also answer for the DNS subjectAltNames of the certificates. Default: only when `names`
    /// is empty.
    public var includeCertificateNames: Bool
    /// One chain per key type (an RSA and an ECDSA chain for one name is allowed); OpenSSL
    /// serves the one the client's signature algorithms accept.
    public var certificates: [TLSServerCertificate]
    public var clientAuthentication: TLSClientAuthentication

    public init(names: [String] = [], certificates: [TLSServerCertificate], clientAuthentication: TLSClientAuthentication = .none) {
        self.names = names
        includeCertificateNames = names.isEmpty
        self.certificates = certificates
        self.clientAuthentication = clientAuthentication
    }
}

/// A listener's TLS settings (maps from the config's `ListenerTLSConfig`).
public struct TLSServerConfiguration: Sendable {
    /// The listener id: part of the resumption binding.
    public var listener: String
    public var hosts: [TLSServerHost]
    /// The host served when SNI is absent (or unknown under `.useDefault`).
    public var defaultHost: Int = 0
    public var unknownServerName: UnknownServerNamePolicy = .useDefault
    public var minVersion: TLSVersion = .tls1_2
    public var maxVersion: TLSVersion?
    /// OpenSSL names: TLS 1.3 suites ("TLS_AES_128_GCM_SHA256") and TLS 1.2 ciphers
    /// ("ECDHE-ECDSA-AES128-GCM-SHA256"). Empty: the modern defaults. Only AEAD ciphers with
    /// ephemeral ECDHE key exchange are accepted.
    public var cipherSuites: [String] = []
    /// Key-exchange groups in preference order.
    /// P-384 last: never chosen over the first two by a client that offers them, but the one a
    /// client limited to P-384 (some FIPS/CNSA profiles) can still use.
    public var groups: [String] = ["X25519", "P-256", "P-384"]
    /// ALPN protocols in server preference order. A client offering ALPN without any of them
    /// is refused (no_application_protocol); a client offering none gets no ALPN.
    public var alpn: [String] = ["http/1.1"]
    /// Stateless session tickets with the key ring's keys (one ticket per handshake).
    public var sessionResumption: Bool = true
    public var limits = TLSLimits()

    public init(listener: String, hosts: [TLSServerHost]) {
        self.listener = listener
        self.hosts = hosts
    }

    static let defaultTLS12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ]
    static let defaultTLS13Suites = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
}

/// ALPN protocol names in wire format (length-prefixed).
func alpnWireFormat(_ protocols: [String]) throws(TLSError) -> [UInt8] {
    var wire: [UInt8] = []
    for p in protocols {
        let bytes = Array(p.utf8)
        guard (1...255).contains(bytes.count) else { throw TLSError(.configuration, "ALPN protocol \"\(p)\" must be 1 to 255 bytes") }
        wire.append(UInt8(bytes.count))
        wire += bytes
    }
    return wire
}
