import Dispatch
import Glibc
import SentinelReactor
import Synchronization

/// A value shared between a reactor thread and the test.
final class Locked<Value: Sendable>: Sendable {
    private let m: Mutex<Value>
    init(_ value: Value) { m = Mutex(value) }
    var value: Value { m.withLock { $0 } }
    func update<R: Sendable>(_ body: (inout Value) -> R) -> R { m.withLock { body(&$0) } }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A listener on 127.0.0.1 port 0.
func makeListener(backlog: Int32 = 511) throws -> (fd: Int32, port: Int) {
    let fd = try Sockets.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!, backlog: backlog)
    return (fd, try Sockets.localAddress(fd).port)
}

extension ReactorHandle {
    /// Runs `body` on the reactor thread and waits for its result (10 s at most).
    func ask<T: Sendable>(_ body: @escaping @Sendable (Reactor) -> T) throws -> T {
        let result = Locked<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        guard send(.run({ r in result.update { $0 = body(r) }; done.signal() })) else { throw TestFailure("mailbox full") }
        guard done.wait(timeout: .now() + 10) == .success, let v = result.value else { throw TestFailure("reactor did not answer") }
        return v
    }

    /// Polls until the reactor has no session left (true) or 10 s pass.
    func waitForNoSessions() throws -> Bool {
        for _ in 0..<1000 {
            if try ask({ $0.sessionCount }) == 0 { return true }
            usleep(10_000)
        }
        return false
    }
}

/// A blocking client socket with a receive timeout, so a broken reactor fails a test instead of hanging it.
struct Client {
    let fd: Int32

    init(port: Int, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let r = SocketAddress(host: "127.0.0.1", port: port)!.withSockAddr { Glibc.connect(fd, $0, $1) }
        guard r == 0 else {
            let e = errno
            Glibc.close(fd)
            throw TestFailure("connect: \(e)")
        }
    }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send: \(errno)") }
            off += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func receive(exactly count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { throw TestFailure("recv after \(got)/\(count) bytes: \(n == 0 ? "end of file" : "errno \(errno)")") }
            got += n
        }
        return out
    }

    /// Everything until end of file (or an error, e.g. a reset: then nil).
    func receiveToEnd() -> [UInt8]? {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { return out }
            if n < 0 { return nil }
            out += chunk[0..<n]
        }
    }

    func shutdownOutput() { shutdown(fd, Int32(SHUT_WR)) }
    func close() { Glibc.close(fd) }
}

/// Bytes 0, 1, …, 250, 0, 1, … (a prime period, so a reordered or dropped chunk shows).
func pattern(_ count: Int, from offset: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8((offset + $0) % 251) }
}
