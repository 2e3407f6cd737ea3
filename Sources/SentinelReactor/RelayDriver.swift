/// A byte relay between the downstream and one upstream connection: the minimal proxy, and
/// the shape of a tunnel after `101 Switching Protocols`. Client bytes wait (reading paused)
/// until the upstream connects; each side reads only while the other side has nothing queued
/// (so at most one read buffer per direction is in flight); a half-close is passed on; a
/// failure on either side resets both.
public final class RelayDriver: ConnectionDriver {
    let upstream: SocketAddress
    var connected = false
    var early: [IOBuffer] = []
    var downstreamEnded = false
    var upstreamEnded = false

    public init(upstream: SocketAddress) { self.upstream = upstream }

    public func start(_ io: inout DriverIO) { io.connect(.upstream, to: upstream) }

    public func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        guard connected else {
            early.append(buffer)
            io.setReading(.downstream, false)
            return
        }
        io.write(endpoint == .downstream ? .upstream : .downstream, buffer)
        io.setReading(endpoint, false)
    }

    public func connected(_ endpoint: Endpoint, _ io: inout DriverIO) {
        connected = true
        let waiting = early
        early.removeAll()
        for b in waiting { io.write(.upstream, b) }
        if downstreamEnded { io.close(.upstream, .outputAfterFlush) }
        // With bytes written, `drained(.upstream)` turns reading back on.
        if waiting.isEmpty { io.setReading(.downstream, true) }
    }

    public func drained(_ endpoint: Endpoint, _ io: inout DriverIO) {
        // The side that writes to `endpoint` may read again.
        io.setReading(endpoint == .downstream ? .upstream : .downstream, true)
    }

    public func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {
        if endpoint == .downstream { downstreamEnded = true } else { upstreamEnded = true }
        if downstreamEnded && upstreamEnded {
            io.finish(.afterFlush)
        } else if endpoint == .upstream {
            io.close(.downstream, .outputAfterFlush)
        } else if connected {
            io.close(.upstream, .outputAfterFlush)
        }
    }

    public func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { io.finish(.reset) }
}
