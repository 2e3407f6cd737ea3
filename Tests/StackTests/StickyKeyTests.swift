import Foundation
import Testing

@testable import SentinelMaster

/// The sticky-cookie key survives a master restart (same runtime directory), so clients keep
/// their affinity; it is private to the master's user.
@Suite struct StickyKeyTests {
    @Test func keyIsCreatedOnceAndReused() throws {
        let dir = NSTemporaryDirectory() + "sticky-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = WorkerHandover.Instance.persistent(in: dir)
        let second = WorkerHandover.Instance.persistent(in: dir)
        #expect(first.stickyKey.count == 32)
        #expect(first.stickyKey == second.stickyKey)
        #expect(first.id != second.id)  // a new instance id per master
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/sticky.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func aReadableByOthersKeyIsNotTrusted() throws {
        let dir = NSTemporaryDirectory() + "sticky-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sticky.key"
        try (String(repeating: "ab", count: 32) + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        let instance = WorkerHandover.Instance.persistent(in: dir)
        #expect(instance.stickyKey != [UInt8](repeating: 0xab, count: 32))
    }
}
