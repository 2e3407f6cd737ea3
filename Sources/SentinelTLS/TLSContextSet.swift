internal import COpenSSL
internal import CSentinelTLS

/// A listener's server contexts: one SSL_CTX per host (certificate set), built once with the
/// configuration snapshot and shared by every connection of the listener; the ClientHello
/// callback picks one by SNI. Immutable after init (OpenSSL contexts are safe to share across
/// threads once configured), so a worker may use one set from any thread.
public final class TLSContextSet: @unchecked Sendable {
    /// One SSL_CTX and what the callbacks need about it.
    final class Host {
        let ctx: OpaquePointer
        let names: [String]
        let verifyMode: Int32
        /// SSL session-id context: OpenSSL refuses to resume a session minted under another one.
        let sessionIDContext: [UInt8]
        /// (leaf X509*, DER OCSP response) per certificate with a staple.
        let staples: [(leaf: OpaquePointer, der: [UInt8])]
        let configuration: TLSServerHost

        init(ctx: OpaquePointer, names: [String], verifyMode: Int32, sessionIDContext: [UInt8],
             staples: [(leaf: OpaquePointer, der: [UInt8])], configuration: TLSServerHost) {
            self.ctx = ctx
            self.names = names
            self.verifyMode = verifyMode
            self.sessionIDContext = sessionIDContext
            self.staples = staples
            self.configuration = configuration
        }

        deinit { SSL_CTX_free(ctx) }
    }

    let hosts: [Host]
    let defaultHost: Host
    let exactNames: [String: Host]
    /// Keyed by the suffix after "*.": "example.com" for "*.example.com".
    let wildcardNames: [String: Host]
    public let listener: String
    public let unknownServerName: UnknownServerNamePolicy
    public let limits: TLSLimits
    let ticketKeys: TicketKeyRing?
    /// ALPN protocols (wire format) in a stable allocation: OpenSSL keeps a pointer into it.
    let alpn: UnsafeMutableBufferPointer<UInt8>
    let sessionResumption: Bool

    /// Builds every context. Throws `.configuration` or `.certificate` with what failed; a key
    /// that does not match its certificate is refused here (`TLSCertificateChain.check` reports
    /// the rest: expiry, order, names).
    public init(_ config: TLSServerConfiguration, ticketKeys: TicketKeyRing?) throws(TLSError) {
        guard !config.hosts.isEmpty else { throw TLSError(.configuration, "listener \"\(config.listener)\": no certificate") }
        guard config.hosts.indices.contains(config.defaultHost) else {
            throw TLSError(.configuration, "listener \"\(config.listener)\": default host \(config.defaultHost) does not exist")
        }
        guard config.minVersion >= .tls1_2 else {
            throw TLSError(.configuration, "listener \"\(config.listener)\": min-version \(config.minVersion) is below TLS 1.2")
        }
        if let max = config.maxVersion, max < config.minVersion {
            throw TLSError(.configuration, "listener \"\(config.listener)\": max-version \(max) is below min-version \(config.minVersion)")
        }
        let wire = try alpnWireFormat(config.alpn)
        alpn = .allocate(capacity: max(1, wire.count))
        _ = alpn.initialize(from: wire)
        alpnCount = wire.count
        listener = config.listener
        unknownServerName = config.unknownServerName
        limits = config.limits
        self.ticketKeys = config.sessionResumption ? ticketKeys : nil
        sessionResumption = config.sessionResumption

        var built: [Host] = []
        do {
            for (index, h) in config.hosts.enumerated() {
                built.append(try Self.makeHost(h, index: index, config: config))
            }
        } catch {
            alpn.deallocate()
            throw error
        }
        hosts = built
        defaultHost = built[config.defaultHost]
        // Lookup tiers: written names with priority, then names read from certificates, then
        // written names without priority; within a tier the first host wins.
        var exact: [String: Host] = [:]
        var wildcard: [String: Host] = [:]
        func register(_ name: String, _ h: Host) {
            if name.hasPrefix("*.") {
                let suffix = String(name.dropFirst(2))
                if wildcard[suffix] == nil { wildcard[suffix] = h }
            } else if exact[name] == nil {
                exact[name] = h
            }
        }
        for (h, c) in zip(built, config.hosts) where c.namesTakePriority {
            for name in c.names { register(name.lowercased(), h) }
        }
        for (h, c) in zip(built, config.hosts) where c.includeCertificateNames {
            for cert in c.certificates { for name in cert.chain.leaf.dnsNames { register(name, h) } }
        }
        for (h, c) in zip(built, config.hosts) where !c.namesTakePriority {
            for name in c.names { register(name.lowercased(), h) }
        }
        exactNames = exact
        wildcardNames = wildcard
        var text = "listener=\(config.listener) min=\(config.minVersion) max=\(config.maxVersion.map { "\($0)" } ?? "-")"
        text += " ciphers=\(config.cipherSuites) groups=\(config.groups) alpn=\(config.alpn) tickets=\(config.sessionResumption)"
        text += " unknown-sni=\(config.unknownServerName) limits=\(config.limits) default=\(config.defaultHost)"
        for (h, c) in zip(built, config.hosts) {
            text += " | names=\(h.names) priority=\(c.namesTakePriority) certificate-names=\(c.includeCertificateNames)"
            text += " binding=\(hex(h.sessionIDContext)) staples=\(h.staples.map { hex(sha256($0.der)) })"
        }
        summary = text
    }

    /// What the set was built from, as text (for logs and tests that compare configurations):
    /// the listener's settings and, per host, its names and its resumption binding, which
    /// covers the certificates and the client-certificate policy (CAs, CRLs, depth), and a
    /// digest of each OCSP staple.
    public let summary: String

    let alpnCount: Int

    deinit { alpn.deallocate() }

    /// Every name this set answers for, with the index of its host (for logs and tests).
    public var serverNames: [String: Int] {
        var out: [String: Int] = [:]
        for (n, h) in exactNames { out[n] = hosts.firstIndex { $0 === h } }
        for (n, h) in wildcardNames { out["*." + n] = hosts.firstIndex { $0 === h } }
        return out
    }

    /// The host for a (lower-cased, validated) SNI name: exact names first, then a wildcard
    /// covering exactly one more label.
    func host(for name: String) -> Host? {
        if let h = exactNames[name] { return h }
        guard let dot = name.firstIndex(of: "."), dot != name.startIndex else { return nil }
        return wildcardNames[String(name[name.index(after: dot)...])]
    }

    static func makeHost(_ h: TLSServerHost, index: Int, config: TLSServerConfiguration) throws(TLSError) -> Host {
        let what = "listener \"\(config.listener)\" certificate \(index + 1)"
        guard !h.certificates.isEmpty else { throw TLSError(.configuration, "\(what): no certificate chain") }
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.drain(.internal, "\(what): SSL_CTX_new") }
        var ok = false
        defer { if !ok { SSL_CTX_free(ctx) } }

        guard sentinel_tls_ctx_configure(ctx, 1, config.sessionResumption ? 1 : 0) == 1 else {
            throw TLSError.drain(.internal, "\(what): context options")
        }
        guard sentinel_tls_ctx_set_versions(ctx, config.minVersion.rawValue, config.maxVersion?.rawValue ?? 0) == 1 else {
            throw TLSError.drain(.configuration, "\(what): min/max version")
        }
        try applyCiphers(ctx, config: config, what: what)
        guard sentinel_tls_ctx_set_groups(ctx, config.groups.joined(separator: ":")) == 1 else {
            throw TLSError.drain(.configuration, "\(what): groups \(config.groups.joined(separator: ", "))")
        }
        sentinel_tls_ctx_set_max_cert_list(ctx, config.limits.maxPeerCertificateChainBytes)

        var names: [String] = h.names.map { $0.lowercased() }
        var staples: [(leaf: OpaquePointer, der: [UInt8])] = []
        var fingerprints: [UInt8] = []
        for cert in h.certificates {
            let chain = cert.chain
            try chain.install(on: ctx, refusal: "the certificate and key")
            if let der = cert.ocspResponse {
                try checkOCSPResponse(der, what: "\(chain.source) OCSP response")
                staples.append((chain.certificates[0], der))
            }
            if h.includeCertificateNames { names += chain.leaf.dnsNames }
            fingerprints += Array(chain.leaf.sha256Fingerprint.utf8)
        }
        if names.isEmpty { throw TLSError(.configuration, "\(what): no names given and the certificate has no DNS subjectAltName") }

        var verifyMode = SSL_VERIFY_NONE
        if let trust = h.clientAuthentication.trust {
            guard let store = trust.makeStore() else { throw TLSError.drain(.internal, "\(what): X509_STORE_new") }
            SSL_CTX_set_cert_store(ctx, store)
            for ca in trust.certificates { _ = SSL_CTX_add_client_CA(ctx, ca) }
            verifyMode = SSL_VERIFY_PEER
            if case .required = h.clientAuthentication { verifyMode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
            SSL_CTX_set_verify_depth(ctx, Int32(trust.verifyDepth))
        }
        SSL_CTX_set_verify(ctx, verifyMode, nil)

        // The binding: listener, the host's names and certificates, its client-auth policy.
        var binding = Array("sentinel-sid\0\(config.listener)\0".utf8)
        binding += Array(names.joined(separator: ",").utf8) + [0] + fingerprints + [0] + h.clientAuthentication.bindingBytes
        let sid = sha256(binding)
        guard SSL_CTX_set_session_id_context(ctx, sid, UInt32(sid.count)) == 1 else {
            throw TLSError.drain(.internal, "\(what): session id context")
        }
        TLSCallbacks.installServer(ctx)
        ERR_clear_error()
        ok = true
        return Host(ctx: ctx, names: names, verifyMode: verifyMode, sessionIDContext: sid, staples: staples, configuration: h)
    }

    static func applyCiphers(_ ctx: OpaquePointer, config: TLSServerConfiguration, what: String) throws(TLSError) {
        var tls13 = config.cipherSuites.filter { $0.hasPrefix("TLS_") }
        var tls12 = config.cipherSuites.filter { !$0.hasPrefix("TLS_") }
        if config.cipherSuites.isEmpty {
            tls13 = TLSServerConfiguration.defaultTLS13Suites
            tls12 = TLSServerConfiguration.defaultTLS12Ciphers
        }
        let wantsTLS12 = config.minVersion <= .tls1_2
        let wantsTLS13 = (config.maxVersion ?? .tls1_3) >= .tls1_3
        if wantsTLS12, tls12.isEmpty {
            throw TLSError(.configuration, "\(what): no TLS 1.2 cipher suite given; add one or set min-version TLS1.3")
        }
        if wantsTLS13, tls13.isEmpty {
            throw TLSError(.configuration, "\(what): no TLS 1.3 cipher suite given; add one or set max-version TLS1.2")
        }
        // An empty TLS 1.2 list is allowed only when TLS 1.2 is off.
        let list12 = tls12.isEmpty ? "ECDHE-ECDSA-AES128-GCM-SHA256" : tls12.joined(separator: ":")
        guard SSL_CTX_set_cipher_list(ctx, list12) == 1 else {
            throw TLSError.drain(.configuration, "\(what): cipher suites \(tls12.joined(separator: ", "))")
        }
        guard SSL_CTX_set_ciphersuites(ctx, tls13.joined(separator: ":")) == 1 else {
            throw TLSError.drain(.configuration, "\(what): TLS 1.3 cipher suites \(tls13.joined(separator: ", "))")
        }
        // Only AEAD ciphers with ephemeral (EC)DHE key exchange: no CBC, no RSA key exchange.
        guard let stack = SSL_CTX_get_ciphers(ctx) else { throw TLSError.drain(.configuration, "\(what): no cipher") }
        let count = OPENSSL_sk_num(stack)
        var weak: [String] = []
        var names12: [String] = []
        for i in 0..<max(0, count) {
            guard let raw = OPENSSL_sk_value(stack, i) else { continue }
            let c = OpaquePointer(raw)
            let name = String(cString: SSL_CIPHER_get_name(c))
            let kx = SSL_CIPHER_get_kx_nid(c)
            if SSL_CIPHER_is_aead(c) != 1 || (kx != NID_kx_ecdhe && kx != NID_kx_any) {
                weak.append(name)
            }
            if kx != NID_kx_any { names12.append(name) }
        }
        if !weak.isEmpty {
            throw TLSError(.configuration, "\(what): cipher suites without forward secrecy or AEAD are not allowed: \(weak.joined(separator: ", "))")
        }
        if wantsTLS12, names12.isEmpty {
            throw TLSError(.configuration, "\(what): none of the TLS 1.2 cipher suites is known to OpenSSL: \(tls12.joined(separator: ", "))")
        }
    }

    static func checkOCSPResponse(_ der: [UInt8], what: String) throws(TLSError) {
        guard !der.isEmpty else { throw TLSError(.certificate, "\(what): empty") }
        let ok: Bool = der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            guard let resp = d2i_OCSP_RESPONSE(nil, &p, buf.count) else { return false }
            OCSP_RESPONSE_free(resp)
            return true
        }
        if !ok { throw TLSError.drain(.certificate, "\(what): not a DER OCSP response") }
    }
}

/// A set reflects as its `summary` (its OpenSSL pointers differ between two builds of one
/// configuration; the summary does not).
extension TLSContextSet: CustomReflectable {
    public var customMirror: Mirror { Mirror(self, children: ["summary": summary]) }
}
