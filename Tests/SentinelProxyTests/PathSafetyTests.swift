import Testing

@testable import SentinelProxy

@Suite struct PathSafetyTests {
    func check(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        return bytes.withUnsafeBytes { PathSafety.hasDotSegment($0, 0..<bytes.count) }
    }

    @Test func dotSegmentsAreFound() {
        for bad in ["/..", "/../admin", "/a/../b", "/a/./b", "/.", "/a/.", "/%2e%2e/x", "/%2E./x", "/a/.%2e", "/..%2fadmin", "/a/..?x"] {
            #expect(check(bad), "\(bad)")
        }
    }

    @Test func ordinaryPathsPass() {
        for good in ["/", "/a/b", "/.well-known/acme", "/a..b", "/...", "/a/b.c", "/v1.2/x", "/%2e%2e%2e", "/file.", "/a/.hidden"] {
            #expect(!check(good), "\(good)")
        }
    }
}
