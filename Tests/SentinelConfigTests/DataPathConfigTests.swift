import Foundation
import SentinelConfig
import Testing

/// `system { data-path "reactor" }` serves plain and HTTPS listeners and proxies to upstreams by
/// address, plain or TLS; what its upstream side does not carry yet (targets given by name) is
/// refused at load.
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

    @Test func upstreamTLSIsAccepted() {
        #expect(valid(reactor(#"target "127.0.0.1:9000"; tls { sni "u.internal" }"#))?.upstreams.first?.tls != nil)
    }

    /// HTTPS listeners are served on the reactor (ReactorTLSServer): no refusal at load. The
    /// files are only read when the snapshot is built, so any path does here.
    @Test func httpsListenersAreAccepted() {
        let text = reactor(#"target "127.0.0.1:9000""#).replacingOccurrences(
            of: #"protocol "http" }"#, with: #"protocol "https"; tls { cert-file "/x/c.pem"; key-file "/x/c.key" } }"#)
        #expect(text.contains("https"))
        #expect(diagnostics(text).isEmpty, "\(diagnostics(text))")
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
