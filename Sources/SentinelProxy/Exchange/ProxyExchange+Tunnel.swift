import NIOCore
import SentinelHTTP1

extension ProxyExchange {
    // MARK: - Tunnel (after 101)

    func becomeTunnel() {
        requestComplete = true
        tunneling = true
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
            lastUpstreamActivity = shared.clock.monotonicNanos()
            attemptMetrics.tunnelledOut += pending
            connection.writeAndFlush(downstream.requestBytes.readSlice(length: pending)!)
            // Let go of the drained buffer (its storage can be reused for the next read).
            downstream.requestBytes = ByteBuffer.sharedEmpty
        }
    }

    func tunnelRead(_ buffer: ByteBuffer) {
        lastUpstreamActivity = shared.clock.monotonicNanos()
        attemptMetrics.received(buffer.readableBytes, at: lastUpstreamActivity)
        downstream.writeBody(buffer)
    }

    func finishTunnel() {
        guard !finished else { return }
        finished = true
        disarmTimer()
        report(.success)
        connection?.channel.close(promise: nil)
        connection = nil
        record(status: 101)
        downstream.flush()
        downstream.reset()
    }
}
