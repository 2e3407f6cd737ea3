import NIOCore
import SentinelHTTP1

extension ProxyExchange {
    // MARK: - Tunnel (after 101)

    func becomeTunnel() {
        lifecycle.becameTunnel()
        downstream.startTunnel()
        // Bytes that arrived with the 101 belong to the tunnel.
        if responseBuffer.readableBytes > 0 { downstream.writeBody(responseBuffer.readSlice(length: responseBuffer.readableBytes)!) }
        downstream.flush()
        let relay = TunnelRelay(exchange: self)
        self.relay = relay
        connection?.delegate = relay
        forwardTunnelBytes()
        downstream.resumeReading()
    }

    func forwardTunnelBytes() {
        guard let connection else { return }
        let pending = downstream.requestBytes.readableBytes
        if pending > 0 {
            clock.lastUpstreamActivity = shared.clock.monotonicNanos()
            attemptMetrics.tunnelledOut += pending
            connection.writeAndFlush(downstream.requestBytes.readSlice(length: pending)!)
            // Let go of the drained buffer (its storage can be reused for the next read).
            downstream.requestBytes = ByteBuffer.sharedEmpty
        }
    }

    func tunnelRead(_ buffer: ByteBuffer) {
        let now = shared.clock.monotonicNanos()
        clock.lastUpstreamActivity = now
        attemptMetrics.received(buffer.readableBytes, at: now)
        downstream.writeBody(buffer)
    }

    func finishTunnel() {
        guard lifecycle.finish() != nil else { return }
        disarmTimer()
        report(.success)
        connection?.close()
        connection = nil
        record(status: 101)
        downstream.flush()
        downstream.reset()
    }
}
