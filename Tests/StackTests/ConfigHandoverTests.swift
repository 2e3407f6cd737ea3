import Testing
import SentinelConfig
@testable import SentinelMaster
import SentinelTestSupport

/// The text a master hands its workers must load to the same configuration it validated.
@Suite struct ConfigHandoverTests {
    @Test(arguments: ["config/sentinel.kdl", "config/examples/reverse-proxy.kdl", "config/examples/load-balancer.kdl", "config/examples/api-gateway.kdl"])
    func expandedTextLoadsToTheSameConfiguration(_ file: String) throws {
        guard case .success(let expanded) = ConfigLoader.loadExpanded(file: packageRoot + "/" + file) else {
            return  // examples the feature gate rejects are covered by the config tests
        }
        guard case .success(let again) = ConfigLoader.load(text: expanded.text, file: file) else {
            Issue.record("handed-over text of \(file) does not load")
            return
        }
        let a = expanded.loaded.config
        let b = again.config
        #expect(a.listeners.map(\.address.description) == b.listeners.map(\.address.description))
        #expect(a.routes.map(\.id) == b.routes.map(\.id))
        #expect(a.upstreams.map(\.id) == b.upstreams.map(\.id))
        #expect(a.system.gracefulShutdownTimeout == b.system.gracefulShutdownTimeout)
        #expect(a.limits == b.limits)
    }

    @Test func memfdRoundTrip() throws {
        let text = "schema-version \"1.0\" // ünïcode\n" + String(repeating: "x", count: 200_000)
        let handover = try ConfigHandover(text: text)
        #expect(try ConfigHandover.read(fd: handover.fd) == text)
        #expect(try ConfigHandover.read(fd: handover.fd) == text)  // again, from offset 0
    }
}
