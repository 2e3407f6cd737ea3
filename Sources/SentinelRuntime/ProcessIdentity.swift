public import SentinelTLS
public import SentinelRateLimit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Values fixed for the life of the process and passed to every `SnapshotBuilder.build`, so a
/// reload never changes them.
///
/// It exists because some balancing inputs must not change on reload: the sticky-cookie key (a new
/// key would invalidate every client's affinity cookie), the proxy id (a new one would move this
/// proxy to another deterministic subset and drop its warm connections) and the local zone.
public struct ProcessIdentity: Sendable {
    /// Signs sticky cookies of upstreams without `cookie-secret`: 32 random bytes, made once.
    public var stickyKey: [UInt8]
    /// Chooses the deterministic subset: the host name.
    public var proxyID: String
    /// SENTINEL_ZONE, ZONE or REGION from the environment, else "default".
    public var zone: String
    /// Session-ticket keys of every HTTPS listener of this process (they survive reloads, so a
    /// ticket resumes after one). `sentinel` rotates them hourly (`TicketKeyRotation`); nil: no
    /// tickets.
    public var ticketKeys: TicketKeyRing?
    /// Where the rate limiters' buckets live (they survive reloads): under `sentinel-stack`, the
    /// memory file every worker shares; in `sentinel`, a private region. nil: each snapshot
    /// makes its own (tests).
    public var rateLimitRegion: RateLimitRegion?

    public init(stickyKey: [UInt8], proxyID: String, zone: String, ticketKeys: TicketKeyRing? = nil,
                rateLimitRegion: RateLimitRegion? = nil) {
        self.stickyKey = stickyKey
        self.proxyID = proxyID
        self.zone = zone
        self.ticketKeys = ticketKeys
        self.rateLimitRegion = rateLimitRegion
    }

    public static func current() -> ProcessIdentity {
        var rng = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count - 1) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let names: [String] = ["SENTINEL_ZONE", "ZONE", "REGION"]
        let zone = names.lazy.compactMap { (name: String) -> String? in getenv(name).map { String(cString: $0) } }.first { !$0.isEmpty }
        return ProcessIdentity(stickyKey: key, proxyID: host, zone: zone ?? "default", ticketKeys: try? TicketKeyRing.random(),
                               rateLimitRegion: RateLimitRegion.makePrivate(bytes: RateLimitRegion.defaultBytes))
    }
}
