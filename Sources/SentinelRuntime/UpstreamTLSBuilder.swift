public import SentinelConfig
public import SentinelProxy
import SentinelTLS

/// An upstream's `tls { … }` → its `UpstreamTLS`: one client `SSL_CTX` per upstream, built once
/// per snapshot (never per connection), and the name each target is verified against.
///
/// It exists so the files an upstream's TLS needs are read and checked like the rest of the
/// configuration: a CA bundle or client certificate that cannot be read or parsed, or a client
/// key that does not match its certificate, fails the snapshot build with the upstream and the
/// file named, so a reload is refused and the running generation keeps serving.
public enum UpstreamTLSBuilder {
    /// The upstream's TLS, or nil without a `tls` block. `id`: the upstream's id in the snapshot
    /// (namespaced ones qualified).
    public static func build(_ u: UpstreamConfig, id: String) throws(ListenerTLSBuilder.Failure) -> UpstreamTLS? {
        guard let t = u.tls else { return nil }
        let what = "upstream \"\(id)\" tls"
        do {
            var config = TLSClientConfiguration(trust: try trust(t, what: what))
            if let cert = t.clientCert, let key = t.clientKey {
                let chain = try TLSCertificateChain(
                    certificatePEM: ListenerTLSBuilder.read(cert, what + " client-cert"),
                    keyPEM: ListenerTLSBuilder.read(key, what + " client-key"), source: cert)
                guard chain.keyMatchesCertificate else {
                    throw ListenerTLSBuilder.Failure(description: "\(what): client-key \(key) does not match client-cert \(cert)")
                }
                config.certificate = chain
            }
            config.alpn = UpstreamTLS.alpn
            config.minVersion = .tls1_2
            let context = try TLSClientContext(config)
            let names = u.targets.map { t.sni ?? $0.address.host }
            return UpstreamTLS(upstream: id, context: context, serverNames: names, verifyDisabled: t.insecureSkipVerify)
        } catch let e as ListenerTLSBuilder.Failure {
            throw e
        } catch let e as TLSError {
            throw ListenerTLSBuilder.Failure(description: "\(what): \(e)")
        } catch {
            throw ListenerTLSBuilder.Failure(description: "\(what): \(error)")
        }
    }

    /// `insecure-skip-verify` → none; `ca-cert` → that bundle only; else the system's roots
    /// (OpenSSL's default paths; Debian: /etc/ssl/certs/ca-certificates.crt).
    static func trust(_ t: UpstreamTLSConfig, what: String) throws -> TLSClientConfiguration.Trust {
        if t.insecureSkipVerify { return .insecureNoVerification }
        if let ca = t.caCert {
            return .custom(try TLSTrustStore(caPEM: ListenerTLSBuilder.read(ca, what + " ca-cert"), source: ca))
        }
        return .systemRoots
    }
}
