public import SentinelTLS

/// What an HTTPS listener's connections need from the snapshot: the listener's contexts (one
/// `SSL_CTX` per certificate, built with the snapshot, never per handshake) and the handshake
/// deadline.
///
/// A value in `ServerSnapshot.Listener`, so a reload that changes a certificate swaps it with
/// the rest of the snapshot: connections accepted afterwards use the new contexts, connections
/// already open keep the ones they were accepted with.
public struct ListenerTLS: Sendable, Equatable {
    public let contexts: TLSContextSet
    /// A client must complete its handshake within this time, else the connection is closed.
    public var handshakeTimeout: Duration

    public init(contexts: TLSContextSet, handshakeTimeout: Duration) {
        self.contexts = contexts
        self.handshakeTimeout = handshakeTimeout
    }

    /// The same contexts (identity: a context set is immutable) and the same deadline.
    public static func == (a: ListenerTLS, b: ListenerTLS) -> Bool {
        a.contexts === b.contexts && a.handshakeTimeout == b.handshakeTimeout
    }
}
