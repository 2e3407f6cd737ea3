import SentinelHTTP1
import Synchronization

/// The PROXY protocol at the start of a connection on a `proxy-protocol` listener, host-neutral:
/// the NIO host (`ProxyProtocolHandler`) and the reactor host (`HTTP1ReactorDriver`) feed it the
/// first bytes and do what it says. A value: what was received of an incomplete header, at most
/// the parser's bound (107 bytes for version 1, `maxLength` for version 2).
///
/// The header is read before anything else, TLS included. It is accepted only from a peer in
/// `system { trusted-proxies }` (the host checks with `admits` when the connection opens); a bad
/// header, or one that does not arrive within the listener's request timeout (the connection's
/// first-head deadline, armed when it opened), closes the connection. Either is counted.
struct ProxyProtocolGate {
    /// The bound on a version 2 header (addresses and TLVs): AWS and GCP balancers send well under it.
    static let maxLength = 4096

    enum Step: Equatable {
        /// Read more.
        case needMore
        /// The header is complete: `consumed` bytes of the input just fed were part of it; the
        /// rest are the connection's own protocol. `client`: the client it names (nil: the peer
        /// stands, a LOCAL or UNKNOWN header).
        case done(client: ProxyClient?, consumed: Int)
        /// Not a valid header: close the connection.
        case refuse(String)
    }

    private var pending: [UInt8] = []

    /// Whether a connection from `peer` (address bytes) may speak the protocol at all.
    static func admits(_ peer: [UInt8]?, policy: ForwardingPolicy) -> Bool { policy.trusts(peer) }

    /// Feeds the bytes that arrived; parses in place when nothing is pending (the usual case:
    /// the header and the request head arrive together).
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Step {
        let before = pending.count
        let parse: ProxyProtocol.Parse
        if before == 0 {
            parse = ProxyProtocol.parse(bytes, maxLength: Self.maxLength)
        } else {
            pending.append(contentsOf: bytes)
            parse = ProxyProtocol.parse(pending, maxLength: Self.maxLength)
        }
        switch parse {
        case .incomplete:
            if before == 0 { pending.append(contentsOf: bytes) }
            return .needMore
        case .invalid(let why):
            pending = []
            return .refuse(why)
        case .header(let header, let length):
            pending = []
            switch header.source {
            case .local: return .done(client: nil, consumed: length - before)
            case .client(let text, let address, _):
                return .done(client: ProxyClient(text: text, bytes: address, isIPv6: address.count == 16), consumed: length - before)
            }
        }
    }
}

/// The client a PROXY protocol header named: it replaces the socket peer for everything that
/// uses the client's address (rate limits, geo, logs, X-Forwarded-For).
struct ProxyClient: Equatable, Sendable {
    let text: String
    let bytes: [UInt8]
    let isIPv6: Bool
}

extension ProxyConnectionHandler {
    /// The PROXY protocol header named the client: it stands for the peer from now on.
    func proxyClient(_ client: ProxyClient) {
        clientIP = client.text
        currentClientIP = client.text
        clientIPBytes = client.bytes
        clientIsIPv6 = client.isIPv6
    }
}

/// `sentinel_proxy_protocol_connections_total{result}`: connections on PROXY protocol
/// listeners by what their header did (accepted, invalid, untrusted peer).
final class ProxyProtocolMetrics: Sendable {
    private let accepted = Atomic<UInt64>(0)
    private let invalid = Atomic<UInt64>(0)
    private let untrusted = Atomic<UInt64>(0)

    func count(_ step: ProxyProtocolGate.Step) {
        switch step {
        case .needMore: break
        case .done: accepted.add(1, ordering: .relaxed)
        case .refuse: invalid.add(1, ordering: .relaxed)
        }
    }

    func untrustedPeer() { untrusted.add(1, ordering: .relaxed) }

    var values: (accepted: UInt64, invalid: UInt64, untrusted: UInt64) {
        (accepted.load(ordering: .relaxed), invalid.load(ordering: .relaxed), untrusted.load(ordering: .relaxed))
    }

    func render() -> String {
        let v = values
        guard v.accepted + v.invalid + v.untrusted > 0 else { return "" }
        return "# HELP sentinel_proxy_protocol_connections_total Connections on PROXY protocol listeners, by what their header did.\n"
            + "# TYPE sentinel_proxy_protocol_connections_total counter\n"
            + "sentinel_proxy_protocol_connections_total{result=\"accepted\"} \(v.accepted)\n"
            + "sentinel_proxy_protocol_connections_total{result=\"invalid\"} \(v.invalid)\n"
            + "sentinel_proxy_protocol_connections_total{result=\"untrusted\"} \(v.untrusted)\n"
    }
}
