import SentinelReactor

/// Writes back what it receives (the very buffer: zero copy); stops reading while a write
/// waits, so a client that does not read cannot make it buffer without bound.
final class EchoDriver: ConnectionDriver {
    func start(_ io: inout DriverIO) {}

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        io.write(endpoint, buffer)
        io.setReading(endpoint, false)
    }

    func drained(_ endpoint: Endpoint, _ io: inout DriverIO) { io.setReading(endpoint, true) }
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) { io.close(endpoint, .afterFlush) }
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { io.finish(.reset) }
}

/// Sends `total` pattern bytes in 64 KiB chunks, the next chunk only when the last is in the
/// kernel; then closes.
final class GeneratorDriver: ConnectionDriver {
    let total: Int
    var sent = 0
    init(total: Int) { self.total = total }

    func start(_ io: inout DriverIO) { next(&io) }
    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {}
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {}
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { io.finish(.reset) }
    func drained(_ endpoint: Endpoint, _ io: inout DriverIO) { next(&io) }

    private func next(_ io: inout DriverIO) {
        guard sent < total else {
            io.close(.downstream, .afterFlush)
            return
        }
        for _ in 0..<4 where sent < total {
            let b = io.makeBuffer()
            let n = min(b.writableBytes, total - sent)
            b.append(pattern(n, from: sent))
            sent += n
            io.write(.downstream, b)
        }
    }
}

/// Connects out on start and reports what happened: connected, failed, or its deadline.
final class ConnectProbe: ConnectionDriver {
    enum Outcome: Sendable, Equatable { case connected, failed(ReactorError), timedOut }
    let target: SocketAddress
    let timeoutMilliseconds: UInt64
    let report: @Sendable (Outcome) -> Void

    init(target: SocketAddress, timeoutMilliseconds: UInt64, report: @escaping @Sendable (Outcome) -> Void) {
        self.target = target
        self.timeoutMilliseconds = timeoutMilliseconds
        self.report = report
    }

    func start(_ io: inout DriverIO) {
        io.connect(.upstream, to: target)
        io.setDeadline(io.now.adding(milliseconds: timeoutMilliseconds))
    }

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {}
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {}

    func connected(_ endpoint: Endpoint, _ io: inout DriverIO) {
        report(.connected)
        io.finish(.afterFlush)
    }

    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) {
        report(.failed(error))
        io.finish(.reset)
    }

    func deadlineReached(_ io: inout DriverIO) {
        report(.timedOut)
        io.finish(.reset)
    }
}
