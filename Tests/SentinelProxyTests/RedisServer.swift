import Foundation
import SentinelTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` (Debian's package; deploy/install-deps.sh --test installs it) on a free
/// port of 127.0.0.1, no persistence, DEBUG allowed from localhost (for DEBUG SLEEP).
///
/// Redis cannot listen on port 0 and report the port, so the port is found by binding port 0,
/// closing, and starting Redis on it; if another process took it meanwhile, Redis exits and the
/// next free port is tried.
final class RedisServer {
    let port: Int
    private var process: Process

    enum Failure: Error { case noRedisServer, wouldNotStart(String) }

    static let executable = "/usr/bin/redis-server"

    init(port wanted: Int? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else { throw Failure.noRedisServer }
        var lastError = ""
        for _ in 0..<5 {
            let port = try wanted ?? freePort()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.executable)
            p.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--enable-debug-command", "local", "--loglevel", "warning"]
            let err = Pipe()
            p.standardOutput = err
            p.standardError = err
            try p.run()
            // Ready when it answers PING; gone when the port was taken.
            if pollUntil(timeout: .seconds(10), { !p.isRunning || Self.ping(port) }), p.isRunning {
                self.port = port
                self.process = p
                return
            }
            lastError = String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
            if p.isRunning { p.terminate() }
            if wanted != nil { break }
        }
        throw Failure.wouldNotStart(lastError)
    }

    /// Stops the server (SIGKILL: as a crash would) and waits for it to be gone.
    func kill() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { kill() }

    /// Sends one command and returns the raw reply text (redis-cli is not needed).
    static func command(_ port: Int, _ args: String...) -> String? { command(port, args, timeoutMs: 5000) }

    static func command(_ port: Int, _ args: [String], timeoutMs: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: timeoutMs / 1000, tv_usec: Int((timeoutMs % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return nil }
        var wire = "*\(args.count)\r\n"
        for a in args { wire += "$\(a.utf8.count)\r\n\(a)\r\n" }
        let bytes = Array(wire.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    static func ping(_ port: Int) -> Bool { command(port, "PING") == "+PONG\r\n" }

    /// Whether the server answers PING within 50 ms (false while it sleeps).
    static func quick(_ port: Int) -> Bool { command(port, ["PING"], timeoutMs: 50) == "+PONG\r\n" }

    /// Sends DEBUG SLEEP without waiting for its reply (Redis is busy for `seconds` from now on).
    func sleep(seconds: Double) {
        let p = port
        Thread.detachNewThread { _ = Self.command(p, "DEBUG", "SLEEP", String(seconds)) }
    }
}
