import Testing
@testable import SentinelConfig

/// The HTTP-edge keys Sentinel adds: `system { via; trusted-proxies }` and the listener's
/// minimum request body rate.
@Suite("forwarding and body rate")
struct ForwardingConfigTests {
    private func config(system: String = "", listener: String = "") -> String {
        """
        system { \(system) }
        listeners { listener "http" { address "127.0.0.1:0"; \(listener) } }
        routes { route "h" { matches { path "/health" }; builtin-handler "health" } }
        """
    }

    @Test func defaults() throws {
        let c = try #require(valid(config()))
        #expect(c.system.via == "sentinel")
        #expect(c.system.trustedProxies.isEmpty)
        #expect(c.listeners[0].bodyMinRate == 1024)
        #expect(c.listeners[0].bodyRateGrace == .seconds(10))
    }

    @Test func everyKey() throws {
        let c = try #require(valid(config(
            system: #"via "edge-1"; trusted-proxies "10.0.0.0/8" "192.0.2.7"; trusted-proxies "2001:db8::/32""#,
            listener: #"body-min-rate "4KiB"; body-rate-grace-secs 3"#)))
        #expect(c.system.via == "edge-1")
        #expect(c.system.trustedProxies == [
            IPRange(address: [10, 0, 0, 0], prefixLength: 8), IPRange(address: [192, 0, 2, 7], prefixLength: 32),
            IPRange(address: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 12), prefixLength: 32),
        ])
        #expect(c.listeners[0].bodyMinRate == 4096)
        #expect(c.listeners[0].bodyRateGrace == .seconds(3))
        let off = try #require(valid(config(system: "via #false", listener: "body-min-rate 0")))
        #expect(off.system.via == nil)
        #expect(off.listeners[0].bodyMinRate == 0)
    }

    @Test func badValuesAreReportedWhereTheyAre() {
        let d = diagnostics(config(
            system: #"via "not a token"; trusted-proxies "10.0.0.1/8" "300.1.1.1" "::1/129" "example.com""#,
            listener: "body-min-rate -1; body-rate-grace-secs 0"))
        let messages = d.map(\.message)
        #expect(messages.contains { $0.contains("\"via\" must be 1-64 token characters") })
        #expect(messages.contains { $0.contains("has address bits set beyond its /8 prefix") })
        #expect(messages.contains { $0.contains("\"300.1.1.1\" is not an IPv4 address") })
        #expect(messages.contains { $0.contains("prefix \"/129\" is not a number between 0 and 128") })
        #expect(messages.contains { $0.contains("\"example.com\" is not an IPv4 address") })
        #expect(messages.contains { $0.contains("body-min-rate") })
        #expect(messages.contains { $0.contains("body-rate-grace-secs") })
        #expect(d.count == 7, "\(messages)")
        #expect(diagnostics(config(system: "via #true")).first?.message.contains("pseudonym string or #false") == true)
        #expect(diagnostics(config(system: "trusted-proxies")).first?.message.contains("needs at least one address") == true)
    }
}
