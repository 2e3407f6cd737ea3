#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SentinelObservability
import Testing

@Suite struct WholeFileIOTests {
    @Test func writeAllThenReadWholeFileRoundTripsAndHonoursTheBound() throws {
        let path = NSTemporaryDirectory() + "sentinel-io-" + UUID().uuidString
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        let text = String(repeating: "0123456789", count: 1000)  // 10 000 bytes
        writeAll(text, to: fd)
        close(fd)
        #expect(readWholeFile(path, limit: .max) == Array(text.utf8))
        // Stops at the first chunk boundary at or past the limit.
        #expect(readWholeFile(path, limit: 5000)?.count == 8192)
        #expect(readWholeFile(path, limit: 5000, chunk: 65536)?.count == 10_000)
        #expect(readWholeFile(path + "-missing", limit: .max) == nil)
    }
}
