public import Foundation
import Synchronization

/// Text appended from another thread (a child's stderr pipe handler, a reader thread) and read by
/// the test.
public final class CollectedText: Sendable {
    private let text = Mutex("")

    public init() {}

    public func append(_ s: String) { text.withLock { $0 += s } }

    public var value: String { text.withLock { $0 } }
}

extension Process {
    /// Discards the child's stdout and appends its stderr (Sentinel's JSON lifecycle log) to `log`
    /// as it arrives, until end of file. Call before `run()`.
    public func collectStderr(into log: CollectedText) {
        let err = Pipe()
        standardError = err
        standardOutput = FileHandle.nullDevice
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            log.append(String(decoding: data, as: UTF8.self))
        }
    }
}

/// Checks `condition` every `interval` until it holds (true at once) or `timeout` passes (then
/// one last check). For waiting on what a child process shows (log lines, files, sockets).
public func pollUntil(
    timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(20), _ condition: () -> Bool
) -> Bool {
    let end = ContinuousClock.now + timeout
    let micros = useconds_t(interval / .microseconds(1))
    while ContinuousClock.now < end {
        if condition() { return true }
        usleep(micros)
    }
    return condition()
}
