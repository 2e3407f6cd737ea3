internal import COpenSSL
internal import CSentinelTLS

/// Upstream TLS settings (maps from the config's `UpstreamTLSConfig`).
public struct TLSClientConfiguration: Sendable {
    public enum Trust: Sendable {
        /// The system's CA roots (OpenSSL's default paths: /etc/ssl/certs on Debian).
        case systemRoots
        /// Only these CAs (`ca-cert`).
        case custom(TLSTrustStore)
        /// No verification at all (`insecure-skip-verify`): loudly warned about by the config layer.
        case insecureNoVerification
    }

    public var trust: Trust = .systemRoots
    /// A client certificate for mTLS to the backend.
    public var certificate: TLSCertificateChain?
    public var alpn: [String] = []
    public var minVersion: TLSVersion = .tls1_2
    public var maxVersion: TLSVersion?
    /// TLS ≤ 1.2 cipher list in OpenSSL syntax; nil is the modern default. Tests use it (with
    /// "@SECLEVEL=0") to offer legacy versions a server must refuse.
    public var cipherList: String?
    /// Ask the server to staple an OCSP response (exposed in `TLSConnectionFacts`).
    public var requestOCSPStaple = false
    public var limits = TLSLimits()

    public init(trust: Trust = .systemRoots) {
        self.trust = trust
    }
}

/// The client-role SSL_CTX for one upstream (built with the snapshot, shared by its connections).
public final class TLSClientContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let configuration: TLSClientConfiguration

    public init(_ config: TLSClientConfiguration) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError.drain(.internal, "client SSL_CTX_new") }
        self.ctx = ctx
        configuration = config
        guard sentinel_tls_ctx_configure(ctx, 0, 1) == 1 else { throw TLSError.drain(.internal, "client context options") }
        guard sentinel_tls_ctx_set_versions(ctx, config.minVersion.rawValue, config.maxVersion?.rawValue ?? 0) == 1 else {
            throw TLSError.drain(.configuration, "client min/max version")
        }
        let list = config.cipherList ?? TLSServerConfiguration.defaultTLS12Ciphers.joined(separator: ":")
        guard SSL_CTX_set_cipher_list(ctx, list) == 1 else { throw TLSError.drain(.configuration, "client cipher list \(list)") }
        guard sentinel_tls_ctx_set_groups(ctx, "X25519:P-256:P-384") == 1 else { throw TLSError.drain(.configuration, "client groups") }
        sentinel_tls_ctx_set_max_cert_list(ctx, config.limits.maxPeerCertificateChainBytes)
        switch config.trust {
        case .systemRoots:
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else { throw TLSError.drain(.configuration, "system CA roots") }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        case .custom(let trust):
            guard let store = trust.makeStore() else { throw TLSError.drain(.internal, "X509_STORE_new") }
            SSL_CTX_set_cert_store(ctx, store)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        case .insecureNoVerification:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        if let chain = config.certificate {
            try chain.install(on: ctx, refusal: "the client certificate")
        }
        if !config.alpn.isEmpty {
            let wire = try alpnWireFormat(config.alpn)
            // SSL_CTX_set_alpn_protos returns 0 on success.
            guard SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count)) == 0 else { throw TLSError.drain(.configuration, "client ALPN") }
        }
        TLSCallbacks.installClient(ctx)
        ERR_clear_error()
    }

    deinit { SSL_CTX_free(ctx) }

    /// Per-connection settings: SNI, host-name verification, OCSP request, session to resume.
    func prepare(_ ssl: OpaquePointer, serverName: String?, session: TLSSession?) throws(TLSError) {
        if let name = serverName, !name.isEmpty {
            let isIP = Self.looksLikeIP(name)
            if !isIP, sentinel_tls_set_host_name(ssl, name) != 1 {
                throw TLSError.drain(.configuration, "SNI \"\(name)\"")
            }
            if case .insecureNoVerification = configuration.trust {} else {
                let param = SSL_get0_param(ssl)
                X509_VERIFY_PARAM_set_hostflags(param, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : X509_VERIFY_PARAM_set1_host(param, name, name.utf8.count)
                guard ok == 1 else { throw TLSError.drain(.configuration, "verify name \"\(name)\"") }
            }
        }
        if configuration.requestOCSPStaple, sentinel_tls_request_ocsp(ssl) != 1 {
            throw TLSError.drain(.internal, "request OCSP staple")
        }
        if let session, SSL_set_session(ssl, session.pointer) != 1 {
            throw TLSError.drain(.internal, "resume session")
        }
    }

    static func looksLikeIP(_ s: String) -> Bool {
        if s.contains(":") { return true }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }
    }
}
