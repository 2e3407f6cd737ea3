import Foundation
import SentinelTLS
import SentinelTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A small blocking host for the sans-I/O engine: a listening socket on 127.0.0.1 port 0 and a
/// thread that serves `connections` clients one after another. Per connection: read → engine →
/// write its output; after the handshake it sends a greeting and a close_notify, then reads to EOF.
final class LoopbackServer: @unchecked Sendable {
    struct Outcome: Sendable {
        var facts: TLSConnectionFacts?
        var error: TLSError?
        var received: [UInt8] = []
    }

    let port: Int
    private let listenFD: Int32
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var outcomes: [Outcome] = []

    init(contexts: TLSContextSet, connections: Int = 1, greeting: String = "hello from sentinel\n") throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError(message: "socket") }
        guard let bound = bindLoopback(fd), listen(fd, 8) == 0 else { close(fd); throw FixtureError(message: "bind/listen") }
        port = bound
        listenFD = fd
        let thread = Thread { [self] in
            for _ in 0..<connections {
                let c = accept(listenFD, nil, nil)
                if c < 0 { break }
                let outcome = Self.serve(c, contexts: contexts, greeting: greeting)
                close(c)
                lock.withLock { outcomes.append(outcome) }
            }
            done.signal()
        }
        thread.start()
    }

    deinit { close(listenFD) }

    /// Waits for every connection to finish (bounded, so a broken test cannot hang the run).
    func finish() throws -> [Outcome] {
        guard done.wait(timeout: .now() + 60) == .success else { throw FixtureError(message: "server did not finish") }
        return lock.withLock { outcomes }
    }

    static func writeAll(_ fd: Int32, _ engine: TLSEngine) {
        while engine.pendingOutputCount > 0 {
            let n = engine.withPendingOutput { out in Glibc.write(fd, out.baseAddress, out.count) }
            if n <= 0 { return }
            engine.consumeOutput(n)
        }
    }

    static func serve(_ fd: Int32, contexts: TLSContextSet, greeting: String) -> Outcome {
        var outcome = Outcome()
        let engine: TLSEngine
        do { engine = try TLSEngine(server: contexts) } catch { outcome.error = error; return outcome }
        var input = [UInt8](repeating: 0, count: 16_384)
        var plain = [UInt8](repeating: 0, count: 16_384)
        var greeted = false
        while true {
            let n = read(fd, &input, input.count)
            if n <= 0 {
                if outcome.error == nil, !greeted { outcome.error = engine.transportClosed() }
                return outcome
            }
            var offset = 0
            while offset < n {
                do {
                    let r = try input[offset..<n].withUnsafeBytes { i in try plain.withUnsafeMutableBytes { try engine.receive(i, into: $0) } }
                    offset += r.consumed
                    outcome.received += plain[0..<r.plaintext]
                    if r.handshakeCompleted {
                        outcome.facts = engine.facts
                    }
                    if r.peerClosed || (r.consumed == 0 && r.plaintext == 0) { break }
                } catch {
                    outcome.error = error as? TLSError
                    writeAll(fd, engine)
                    return outcome
                }
            }
            if !engine.isHandshaking, !greeted {
                greeted = true
                _ = try? Array(greeting.utf8).withUnsafeBytes { try engine.send($0) }
                engine.close()
            }
            writeAll(fd, engine)
        }
    }
}

/// `openssl s_client` against the loopback server; returns its stdout+stderr and exit status.
func sClient(port: Int, _ args: [String]) throws -> ProcessResult {
    try runProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-ign_eof"] + args)
}
