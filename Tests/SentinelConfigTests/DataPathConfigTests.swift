import Foundation
import SentinelConfig
import Testing

/// `system { data-path "reactor" }` proxies to upstreams over plain TCP by address; what its
/// upstream side does not carry yet is refused at load, naming the upstream.
@Suite struct DataPathConfigTests {
    func reactor(_ upstream: String) -> String {
        """
        system { worker-threads 1; data-path "reactor" }
        listeners { listener "http" { address "127.0.0.1:0"; protocol "http" } }
        routes { route "r" { matches { path-prefix "/" }; upstream "u" } }
        upstreams { upstream "u" { \(upstream) } }
        """
    }

    @Test func proxyingToAnAddressIsAccepted() {
        #expect(valid(reactor(#"target "127.0.0.1:9000"; target "[::1]:9001""#))?.system.dataPath == .reactor)
    }

    @Test func upstreamTLSIsRefused() {
        let d = diagnostics(reactor(#"target "127.0.0.1:9000"; tls { sni "u.internal" }"#))
        #expect(d.map(\.message) == ["not supported yet: upstream TLS with data-path \"reactor\""], "\(d)")
        #expect(d.first?.location.line == 4)
    }

    @Test func targetsGivenByNameAreRefused() {
        let d = diagnostics(reactor(#"target "backend.internal:9000""#))
        #expect(
            d.map(\.message) == ["not supported yet: upstream targets given by name (backend.internal:9000) with data-path \"reactor\""],
            "\(d)")
    }

    /// The NIO data path carries both.
    @Test func theNIOPathTakesBoth() {
        let text = reactor(#"target "backend.internal:9000"; tls { sni "u.internal" }"#).replacingOccurrences(
            of: #"data-path "reactor""#, with: #"data-path "nio""#)
        #expect(valid(text) != nil)
    }
}
