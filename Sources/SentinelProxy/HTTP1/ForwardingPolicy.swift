/// How Sentinel marks the messages it forwards (`Via`, `Forwarded`, `X-Forwarded-*`) and whose
/// forwarding fields it believes, compiled once per snapshot.
///
/// A client's own `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Host` / `X-Forwarded-Proto` /
/// `X-Real-IP` claim an origin nobody checked; they are kept (and extended) only when the peer is
/// a trusted proxy, and replaced otherwise.
public struct ForwardingPolicy: Sendable, Equatable {
    /// The pseudonym of the `Via` element (`1.1 <pseudonym>`), as bytes; nil: no Via added.
    public var viaPseudonym: [UInt8]?
    /// Peers whose forwarding fields are kept: (network-order address bytes, prefix length).
    public var trustedProxies: [TrustedRange]

    public struct TrustedRange: Sendable, Equatable {
        public var address: [UInt8]
        public var prefixLength: Int

        public init(address: [UInt8], prefixLength: Int) {
            self.address = address
            self.prefixLength = prefixLength
        }
    }

    public init(via: String? = "sentinel", trustedProxies: [TrustedRange] = []) {
        viaPseudonym = via.map { Array($0.utf8) }
        self.trustedProxies = trustedProxies
    }

    /// Whether `peer` (4 or 16 address bytes; an IPv4-mapped IPv6 address counts as IPv4) is a
    /// trusted proxy. No allocation; with no trusted proxies configured it costs one check.
    func trusts(_ peer: [UInt8]?) -> Bool {
        guard !trustedProxies.isEmpty, let peer else { return false }
        let isMapped = peer.count == 16 && peer[0..<10].allSatisfy { $0 == 0 } && peer[10] == 0xFF && peer[11] == 0xFF
        let offset = isMapped ? 12 : 0
        let length = peer.count - offset
        for range in trustedProxies where range.address.count == length {
            if Self.matches(peer, offset: offset, range) { return true }
        }
        return false
    }

    private static func matches(_ peer: [UInt8], offset: Int, _ range: TrustedRange) -> Bool {
        var bits = range.prefixLength
        var i = 0
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if peer[offset + i] & mask != range.address[i] & mask { return false }
            bits -= 8
            i += 1
        }
        return true
    }
}
