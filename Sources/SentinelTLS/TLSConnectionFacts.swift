internal import COpenSSL
internal import CSentinelTLS

/// What the access log, header policies and metrics learn about a connection once its
/// handshake is done. Computed once per connection (strings copied once).
public struct TLSConnectionFacts: Sendable, Hashable {
    public var version: TLSVersion?
    /// "TLSv1.3".
    public var versionName: String
    /// OpenSSL's cipher name ("TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256").
    public var cipher: String
    /// Key-exchange group ("X25519"…), if known.
    public var group: String?
    public var alpn: String?
    /// Server: the SNI name the client sent (lower-cased). Client: the name it sent.
    public var serverName: String?
    public var resumed: Bool
    /// The peer's certificate: the client certificate on a server (verified against the
    /// host's CAs, or the handshake would have failed), the server's on a client.
    public var peerCertificate: TLSCertificateInfo?
    /// Client: the OCSP response the server stapled.
    public var ocspResponse: [UInt8]?

    /// Server: whether the client presented a certificate. One that is presented has verified
    /// against the host's CAs (and CRLs), or the handshake would have failed, so there are only
    /// two outcomes.
    public enum ClientCertificateStatus: String, Sendable, Hashable {
        case verified
        case none
    }

    /// Server: `verified` with `peerCertificate` set, else `none`.
    public var clientCertificateStatus: ClientCertificateStatus { peerCertificate == nil ? .none : .verified }

    init(engine: TLSEngine) {
        let ssl = engine.ssl
        version = TLSVersion(rawValue: SSL_version(ssl))
        versionName = String(cString: SSL_get_version(ssl))
        if let c = SSL_get_current_cipher(ssl) {
            cipher = String(cString: SSL_CIPHER_get_name(c))
        } else {
            cipher = ""
        }
        group = sentinel_tls_negotiated_group(ssl).map { String(cString: $0) }
        var proto: UnsafePointer<UInt8>?
        var protoLen: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &proto, &protoLen)
        alpn = proto.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(protoLen)), as: UTF8.self) }
        serverName = engine.role == .server ? engine.serverName : engine.expectedName
        resumed = SSL_session_reused(ssl) == 1
        if let peer = SSL_get1_peer_certificate(ssl) {
            peerCertificate = TLSCertificateInfo(peer)
            X509_free(peer)
        }
        if engine.role == .client {
            var der: UnsafePointer<UInt8>?
            let len = sentinel_tls_get_ocsp_response(ssl, &der)
            if len > 0, let der { ocspResponse = Array(UnsafeBufferPointer(start: der, count: len)) }
        }
        ERR_clear_error()
    }
}
