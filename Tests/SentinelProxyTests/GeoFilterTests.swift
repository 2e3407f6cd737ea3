import Foundation
import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// The `geo` filter: its pure decision, the database reader on databases the tests write
/// themselves (MMDBWriter), the reload watcher, and the filter from configuration to the wire.
@Suite(.serialized) struct GeoFilterTests {
    /// 127/8 (the tests' own address) is DE; documentation ranges stand for other countries.
    static let networks = [
        MMDBWriter.Network("127.0.0.0/8", "DE"), MMDBWriter.Network("203.0.113.0/24", "CN"),
        MMDBWriter.Network("198.51.100.0/24", "US"),
    ]

    static func directory() throws -> String {
        let dir = "/tmp/sentinel-geo-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes `bytes` to `path` as a database update does: a new file renamed over the old.
    static func install(_ bytes: [UInt8], at path: String) throws {
        let staging = path + ".new"
        try Data(bytes).write(to: URL(fileURLWithPath: staging))
        _ = rename(staging, path)
    }

    // MARK: The decision

    @Test func blockAllowAndLogOnlyDecideByTheList() {
        let block = GeoRule(action: .block, countries: ["cn"])
        #expect(block.decide(country: "CN") == .refuse(country: "CN"))
        #expect(block.decide(country: "US") == .pass(country: "US", listed: false))
        #expect(block.decide(country: nil) == .pass(country: nil, listed: false))
        let allow = GeoRule(action: .allow, countries: ["US", "DE"])
        #expect(allow.decide(country: "DE") == .pass(country: "DE", listed: true))
        #expect(allow.decide(country: "CN") == .refuse(country: "CN"))
        // An address with no country is not in an allow list.
        #expect(allow.decide(country: nil) == .refuse(country: nil))
        #expect(GeoRule(action: .allow, countries: []).decide(country: "CN") == .pass(country: "CN", listed: false))
        let log = GeoRule(action: .logOnly, countries: ["CN"])
        #expect(log.decide(country: "CN") == .pass(country: "CN", listed: true))
        #expect(log.decide(country: "US") == .pass(country: "US", listed: false))
    }

    // MARK: The database

    @Test func lookupsFindTheCountryOfEachNetworkAndNothingElsewhere() throws {
        let dir = try Self.directory()
        let path = dir + "/c.mmdb"
        try Self.install(MMDBWriter.database(Self.networks), at: path)
        let db = try GeoDatabase.open(path).get()
        #expect(db.type == "Sentinel-Test-Country")
        #expect(db.lookup("127.0.0.1") == .country("DE"))
        #expect(db.lookup("203.0.113.200") == .country("CN"))
        #expect(db.lookup("198.51.100.1") == .country("US"))
        #expect(db.lookup("192.0.2.1") == .none)
        #expect(db.lookup("not an address") == .failed("\"not an address\" is not an IP address"))
        // An IPv6 client in an IPv4-only database: a lookup error, not "no country".
        guard case .failed = db.lookup("2001:db8::1") else { Issue.record("an IPv6 lookup in an IPv4 database must fail"); return }
    }

    @Test func aMissingOrForeignFileIsUnreadableWithItsReason() throws {
        let dir = try Self.directory()
        guard case .failure(let missing) = GeoDatabase.open(dir + "/none.mmdb") else { Issue.record("opened a missing file"); return }
        #expect(missing.reason.lowercased().contains("open"), "\(missing.reason)")
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: dir + "/junk.mmdb"))
        guard case .failure(let junk) = GeoDatabase.open(dir + "/junk.mmdb") else { Issue.record("opened a junk file"); return }
        #expect(!junk.reason.isEmpty)
    }

    /// A changed file is reopened and swapped in; a broken replacement keeps the database in
    /// service; a database that appears later is picked up.
    @Test func theSourceReloadsAChangedFileAndKeepsTheLastGoodOne() throws {
        let dir = try Self.directory()
        let path = dir + "/c.mmdb"
        let source = GeoSource(id: "g", path: path, pollInterval: .seconds(3600))
        #expect(source.database == nil)
        #expect(source.unreadable != nil)
        try Self.install(MMDBWriter.database(Self.networks), at: path)
        source.check()
        #expect(source.database?.lookup("127.0.0.1") == .country("DE"))
        try Self.install(MMDBWriter.database([MMDBWriter.Network("127.0.0.0/8", "FR")]), at: path)
        source.check()
        #expect(source.database?.lookup("127.0.0.1") == .country("FR"))
        try Self.install(Array("broken".utf8), at: path)
        source.check()
        #expect(source.database?.lookup("127.0.0.1") == .country("FR"))
        let c = source.counters
        #expect(c.loaded && c.reloads == 2 && c.reloadFailures == 1)
    }

    // MARK: From configuration to the wire

    static func serve(
        database: String, filter: String, system: String = "", upstream: ScriptedUpstream, metrics: MetricsRegistry = .init(),
        _ body: (Int) async throws -> Void
    ) async throws {
        try await FilterConfigTests.serve(
            upstreamPort: upstream.port, filters: #"filter "geo" { type "geo"; database-path "\#(database)"; \#(filter) }"#,
            routes: #"route "r" { matches { path-prefix "/" }; upstream "app"; filters "geo" }"#, system: system, metrics: metrics,
            body)
    }

    /// Behind a trusted proxy the forwarded client is looked up: a blocked country gets the
    /// configured status as JSON; another passes with its country upstream (the client's own
    /// X-GeoIP-Country replaced) and on the response.
    @Test func blockRefusesTheListedCountryOfTheTrustedClientAddress() async throws {
        let dir = try Self.directory()
        try Self.install(MMDBWriter.database(Self.networks), at: dir + "/c.mmdb")
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        try await Self.serve(
            database: dir + "/c.mmdb", filter: #"countries "CN"; status-code 451; block-message "not here""#,
            system: #"trusted-proxies "127.0.0.1""#, upstream: upstream
        ) { port in
            let c = try RawClient(port: port)
            let blocked = try c.request("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n")
            #expect(blocked.status == 451)
            #expect(blocked.body.contains("\"error\":\"not here\""))
            let ok = try c.request("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 198.51.100.9\r\nX-GeoIP-Country: CN\r\n\r\n")
            #expect(ok.status == 200)
            #expect(ok.header("X-GeoIP-Country") == "US")
            #expect(upstream.requests.count == 1)
            #expect(upstream.requests.first?.header("x-geoip-country") == ["US"])
        }
    }

    /// An untrusted peer cannot pick its own country: its X-Forwarded-For is not read.
    @Test func anUntrustedPeerIsLookedUpByItsSocketAddress() async throws {
        let dir = try Self.directory()
        try Self.install(MMDBWriter.database(Self.networks), at: dir + "/c.mmdb")
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        try await Self.serve(database: dir + "/c.mmdb", filter: #"action "allow"; countries "US""#, upstream: upstream) { port in
            let r = try RawClient(port: port).request("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 198.51.100.9\r\n\r\n")
            #expect(r.status == 403)
            #expect(upstream.requests.isEmpty)
        }
    }

    /// No database: on-failure closed refuses (503); open lets the request through without a
    /// country (and without the one the client sent), counted and shown by the metrics.
    @Test func anUnreadableDatabaseFollowsOnFailure() async throws {
        let dir = try Self.directory()
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        try await Self.serve(database: dir + "/missing.mmdb", filter: #"countries "CN"; on-failure "closed""#, upstream: upstream) { port in
            let refused = try RawClient(port: port).request("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(refused.status == 503)
        }
        let metrics = MetricsRegistry()
        try await Self.serve(database: dir + "/missing.mmdb", filter: #"countries "CN""#, upstream: upstream, metrics: metrics) { port in
            let r = try RawClient(port: port).request("GET / HTTP/1.1\r\nHost: h\r\nX-GeoIP-Country: US\r\n\r\n")
            #expect(r.status == 200)
            #expect(r.header("X-GeoIP-Country") == nil)
            #expect(upstream.requests.last?.header("x-geoip-country") == [])
            let text = metrics.render(version: "t")
            #expect(text.contains(#"sentinel_filter_decisions_total{filter="geo",type="geo",action="failed_open"} 1"#))
            #expect(text.contains(#"sentinel_geo_database_loaded{filter="geo"} 0"#))
            #expect(text.contains(#"sentinel_geo_lookup_failures_total{filter="geo"} 1"#))
        }
    }

    /// The database file replaced while serving: the watcher (one check a second) swaps it in,
    /// and the same client's country changes without a reload of the configuration.
    @Test func aReplacedDatabaseIsServedWithoutAReload() async throws {
        let dir = try Self.directory()
        let path = dir + "/c.mmdb"
        try Self.install(MMDBWriter.database(Self.networks), at: path)
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        try await Self.serve(database: path, filter: #"action "allow"; countries "DE""#, upstream: upstream) { port in
            let c = try RawClient(port: port)
            #expect(try c.request("GET / HTTP/1.1\r\nHost: h\r\n\r\n").status == 200)
            try Self.install(MMDBWriter.database([MMDBWriter.Network("127.0.0.0/8", "FR")]), at: path)
            let deadline = ContinuousClock.now + .seconds(15)
            var status = 200
            while status == 200, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                status = try c.request("GET / HTTP/1.1\r\nHost: h\r\n\r\n").status
            }
            #expect(status == 403)
        }
    }

    @Test func ip2locationDatabasesAreRefusedAndMaxMindOnesLoad() {
        func refusal(_ filter: String) -> String {
            let text = """
                system { worker-threads 1 }
                listeners { listener "http" { address "127.0.0.1:0" } }
                filters { \(filter) }
                routes { route "h" { matches { path "/health" }; builtin-handler "health" } }
                """
            switch ConfigLoader.load(text: text) {
            case .success: return ""
            case .failure(let e): return e.rendered()
            }
        }
        #expect(refusal(#"filter "g" { type "geo"; database-path "/x/db.bin"; countries "CN" }"#).contains("not supported yet"))
        #expect(refusal(#"filter "g" { type "geo"; database-path "/x/db.mmdb"; countries "CN" }"#) == "")
    }
}
