import Foundation
import SentinelMaster
import Synchronization
import Testing

/// The control socketpair under a report larger than the socket buffer.
@Suite struct ControlLinkTests {
    @Test func aWriteLargerThanTheSocketBufferArrivesWhole() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        let received = Mutex((lines: 0, bad: 0))
        let reader = ControlLink(
            fd: pair[0], label: "test.reader",
            onLine: { line in received.withLock { if line.utf8.count == 99 { $0.lines += 1 } else { $0.bad += 1 } } },
            onClose: {})
        let writer = ControlLink(fd: pair[1], label: "test.writer", onLine: { _ in }, onClose: {})
        let line = String(repeating: "x", count: 99) + "\n"
        let count = 20_000  // 2 MB in one send: many times the socket buffer
        // A patience far above the default: the test is about framing across many partial
        // writes, not about how fast the reader's queue runs on a loaded machine (at the 200 ms
        // default it failed under a load average of 14).
        #expect(writer.send(String(repeating: line, count: count), patience: .seconds(10)))
        let end = ContinuousClock.now + .seconds(10)
        while received.withLock({ $0.lines }) < count, ContinuousClock.now < end { usleep(5_000) }
        #expect(received.withLock { $0 } == (count, 0))
        writer.close()
        reader.close()
    }
}
