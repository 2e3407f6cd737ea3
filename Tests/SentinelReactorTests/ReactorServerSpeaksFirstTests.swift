import Dispatch
import Glibc
import SentinelReactor
import Testing

/// An upstream that writes as soon as it accepts: edge-triggered, the connect's completion and
/// the first bytes can arrive as one event, which is the only report of those bytes.
@Suite struct ReactorServerSpeaksFirstTests {
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func bytesThatArriveWithTheConnectAreRead(_ triggering: ReactorConfiguration.Triggering) throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        _ = fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK)  // the test accepts, blocking
        var config = ReactorConfiguration()
        config.triggering = triggering
        let heard = Locked<[UInt8]>([])
        let reactor = try ReactorHandle.start(config) { _ in }
        defer { reactor.stop() }
        let spoken = DispatchSemaphore(value: 0)
        let target = SocketAddress(host: "127.0.0.1", port: port)!
        reactor.send(.run({ r in r.startSession(BannerReader(target) { b in heard.update { $0 += b } }) }))
        // Hold the loop until the server has accepted and spoken, so both readiness changes
        // are pending when it next waits.
        reactor.send(.run({ _ in _ = spoken.wait(timeout: .now() + 10) }))
        let server = accept(lfd, nil, nil)
        #expect(server >= 0)
        defer { close(server) }
        #expect(send(server, "banner", 6, Int32(MSG_NOSIGNAL)) == 6)
        spoken.signal()
        #expect(pollTrue { heard.value == Array("banner".utf8) })
    }
}

/// Connects and reports what the server says.
final class BannerReader: ConnectionDriver {
    let target: SocketAddress
    let report: @Sendable ([UInt8]) -> Void
    init(_ target: SocketAddress, report: @escaping @Sendable ([UInt8]) -> Void) {
        self.target = target
        self.report = report
    }
    func start(_ io: inout DriverIO) { io.connect(.upstream, to: target) }
    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) { report(buffer.bytes) }
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) { io.finish() }
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { io.finish(.reset) }
}
