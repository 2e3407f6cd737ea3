import SentinelTestSupport
import Testing

/// The shared region across real processes: four children (as sentinel-stack's workers) each
/// offer 250 requests a second on one key through one `max-rps 100 burst 20` limiter for two
/// seconds. Together they get the burst and the rate once, not four times.
@Suite struct SharedTableProcessTests {
    @Test func fourProcessesSharingTheRegionAllowTheRateOnce() throws {
        let r = try runBuilt("sentinel-ratelimit-bench",
                             ["table", "--workers", "4", "--rps", "100", "--burst", "20", "--offered", "1000", "--seconds", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let admitted = r.stdout.split(separator: "\n").filter { $0.hasPrefix("second ") }.map { line in
            Int(line.split(separator: " ")[3])!
        }
        try #require(admitted.count == 2, "\(r.stdout)")
        // The first second: the burst of 20 plus the rate, less the token due at the boundary.
        #expect((115...121).contains(admitted[0]), "\(r.stdout)")
        #expect((95...105).contains(admitted[1]), "\(r.stdout)")
    }
}
