public import SentinelTLS

/// What an upstream's connections need from the snapshot for TLS (`upstream { tls { … } }`):
/// the client context (one `SSL_CTX` per upstream, built with the snapshot, never per
/// connection) and, per target, the name sent as SNI and verified against the certificate.
///
/// A value in `UpstreamRuntime`, so a reload that changes a CA, a client certificate or a name
/// swaps it with the rest of the snapshot. A pooled connection remembers the context it was
/// made with and is reused only under the same one (`UpstreamPool.takeIdle`): a connection
/// verified under the old trust never carries a request of the new generation.
public struct UpstreamTLS: Sendable, Equatable {
    /// The upstream's id as metrics and logs show it.
    public let upstream: String
    public let context: TLSClientContext
    /// Per target (`UpstreamRuntime.targets` order): the `sni` setting, else the target's host.
    /// The engine sends it as SNI unless it is an IP literal, and verifies it (an IP literal as
    /// an IP subjectAltName) unless verification is off.
    public let serverNames: [String]
    /// `insecure-skip-verify #true`: the server's certificate is not verified at all.
    public let verifyDisabled: Bool

    public init(upstream: String, context: TLSClientContext, serverNames: [String], verifyDisabled: Bool) {
        self.upstream = upstream
        self.context = context
        self.serverNames = serverNames
        self.verifyDisabled = verifyDisabled
    }

    /// The same context (identity: a context is immutable) and the same names.
    public static func == (a: UpstreamTLS, b: UpstreamTLS) -> Bool {
        a.context === b.context && a.upstream == b.upstream && a.serverNames == b.serverNames && a.verifyDisabled == b.verifyDisabled
    }

    /// ALPN for the data path (HTTP/1.1 to the upstream).
    public static let alpn = ["http/1.1"]
    /// ALPN of a gRPC health probe's connection (its own list on the upstream's context).
    static let probeALPN = ["h2"]
}

/// The latest TLS session per target of this event loop, offered by the next connection to the
/// same target so its handshake is resumed (an abbreviated handshake: no certificate chain, no
/// signature to verify).
///
/// Loop-confined (one per `UpstreamPool`), so it needs no lock. Bounded: one entry per pool key
/// (upstream, target), at most `maxEntries`. An entry is used only with the very context and
/// name it was made under, so a reload that changes the trust or the name never resumes a
/// session verified under the old ones (a resumed handshake does not verify the certificate again).
final class UpstreamSessionCache {
    static let maxEntries = 4096

    private struct Entry {
        let context: TLSClientContext
        let serverName: String
        let session: TLSSession
    }

    private var entries: [UpstreamPool.Key: Entry] = [:]

    /// The session to offer for a new connection, if one is cached under this context and name.
    func session(for key: UpstreamPool.Key, context: TLSClientContext, serverName: String) -> TLSSession? {
        guard let e = entries[key], e.context === context, e.serverName == serverName else { return nil }
        guard e.session.isResumable else {
            entries[key] = nil
            return nil
        }
        return e.session
    }

    /// Keeps `session` as the one to offer next (the server's latest, so a TLS 1.3 ticket is
    /// mostly used once).
    func store(_ session: TLSSession, for key: UpstreamPool.Key, context: TLSClientContext, serverName: String) {
        if entries[key] == nil, entries.count >= Self.maxEntries, let victim = entries.keys.first {
            entries[victim] = nil
        }
        entries[key] = Entry(context: context, serverName: serverName, session: session)
    }

    var count: Int { entries.count }
}

@available(*, unavailable)
extension UpstreamSessionCache: Sendable {}
