#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import Testing

@testable import SentinelObservability

/// The JSON log handler's output: field order, typed values, escaping, levels (pure: lines go to
/// a closure, the clock is fixed).
@Suite struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let value = Mutex<[String]>([])
        var all: [String] { value.withLock { $0 } }
    }

    static func logger(role: String = "master", level: Logger.Level = .info, timestamps: Bool = true) -> (Logger, Lines) {
        let lines = Lines()
        let logger = Logger(label: "t") { _ in
            JSONLogHandler(
                role: role, level: level, timestamps: timestamps, output: .lines { line in lines.value.withLock { $0.append(line) } },
                clock: { (1_764_766_245, 7) })
        }
        return (logger, lines)
    }

    @Test func leadingFieldsThenMetadataByKeyWithTypedValues() {
        let (log, lines) = Self.logger()
        log.info(
            "worker_drained",
            metadata: [
                "slot": .int(0), "pid": .int(9910), "clean": .bool(true), "reason": "drain", "rate": .double(0.25),
                "generation": .int(UInt64(12)),
            ])
        #expect(lines.all.count == 1)
        let line = lines.all[0]
        #expect(line.hasPrefix(#"{"ts":"2025-12-03T12:50:45.007Z","level":"info","role":"master","pid":\#(getpid()),"event":"worker_drained","#))
        // A metadata key never overrides a leading field: `pid` stays the process's own.
        #expect(line.hasSuffix(#","clean":true,"generation":12,"rate":0.25,"reason":"drain","slot":0}"#), "\(line)")
        let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(json?["clean"] as? Bool == true)
        #expect(json?["slot"] as? Int == 0)
        #expect(json?["pid"] as? Int == Int(getpid()))
    }

    @Test func stringsAreEscaped() throws {
        let (log, lines) = Self.logger(timestamps: false)
        let nasty = "a\"b\\c\nd\re\tf\u{01}g\u{7F}h\u{2028}é😀"
        log.error("x", metadata: ["reason": .string(nasty), "k\"ey": "v"])
        let line = try #require(lines.all.first)
        #expect(line == #"{"level":"error","role":"master","pid":\#(getpid()),"event":"x","k\"ey":"v","reason":"a\"b\\c\nd\re\tf\u0001g\u007fh\u2028é😀"}"#)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["reason"] as? String == nasty)
        #expect(!line.contains("\n"))
    }

    @Test func nonFiniteAndOtherValuesAreStrings() throws {
        let (log, lines) = Self.logger(timestamps: false)
        log.warning("y", metadata: ["inf": .double(.infinity), "list": [.int(1), "two", .bool(false)], "nested": ["b": .int(2), "a": "x"]])
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix(#""event":"y","inf":"inf","list":[1,"two",false],"nested":{"a":"x","b":2}}"#), "\(line)")
        #expect(line.contains(#""level":"warn""#))
    }

    @Test func theLevelFiltersAndNamesFollowTheConfiguration() {
        let (log, lines) = Self.logger(level: JSONLogHandler.level(named: "warn"))
        log.info("dropped")
        log.warning("kept")
        log.error("kept too")
        #expect(lines.all.count == 2)
        #expect(JSONLogHandler.level(named: "warning") == .warning)
        #expect(JSONLogHandler.level(named: "trace") == .trace)
        #expect(JSONLogHandler.level(named: "nonsense") == .info)
        #expect(JSONLogHandler.levelName(.critical) == "critical")
    }

    @Test func timestampsAreRFC3339WithMillisecondsInUTC() {
        #expect(JSONLogHandler.rfc3339(seconds: 0, milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLogHandler.rfc3339(seconds: 951_782_400, milliseconds: 999) == "2000-02-29T00:00:00.999Z")
    }

    /// One write(2) per line: lines written concurrently by many threads to one pipe never mix.
    @Test func concurrentLinesOnOnePipeStayWhole() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (readFD, writeFD) = (fds[0], fds[1])
        let logger = Logger.sentinel(role: "worker", output: .fd(writeFD))
        let collected = Lines()
        let done = DispatchSemaphore(value: 0)
        Thread {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            collected.value.withLock { $0 = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init) }
            done.signal()
        }.start()
        let filler = String(repeating: "x", count: 2000)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<50 { logger.info("line", metadata: ["thread": .int(t), "i": .int(i), "filler": .string(filler)]) }
        }
        close(writeFD)
        done.wait()
        close(readFD)
        let lines = collected.all
        #expect(lines.count == 400)
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
    }
}
