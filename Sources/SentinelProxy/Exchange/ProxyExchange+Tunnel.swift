import NIOCore
import SentinelHTTP1

extension ProxyExchange {
    // MARK: - Tunnel (after 101)

    func becomeTunnel() {
        requestComplete = true
        handler.becomeTunnel(self)
        // Bytes that arrived with the 101 belong to the tunnel.
        if responseBuffer.readableBytes > 0 { handler.write(responseBuffer.readSlice(length: responseBuffer.readableBytes)!) }
        handler.flush()
        let relay = TunnelRelay(exchange: self)
        self.relay = relay
        connection?.delegate = relay
        forwardTunnelBytes()
        handler.resumeReading()
    }

    func forwardTunnelBytes() {
        guard let connection else { return }
        if handler.inbound.readableBytes > 0 {
            lastUpstreamActivity = shared.clock.monotonicNanos()
            attemptMetrics.tunnelledOut += handler.inbound.readableBytes
            connection.writeAndFlush(handler.inbound.readSlice(length: handler.inbound.readableBytes)!)
            handler.inbound = ProxyConnectionHandler.noBytes
        }
    }

    func tunnelRead(_ buffer: ByteBuffer) {
        lastUpstreamActivity = shared.clock.monotonicNanos()
        attemptMetrics.received(buffer.readableBytes, at: lastUpstreamActivity)
        handler.write(buffer)
    }

    func finishTunnel() {
        guard !finished else { return }
        finished = true
        disarmTimer()
        report(.success)
        connection?.channel.close(promise: nil)
        connection = nil
        record(status: 101)
        handler.flush()
        handler.close()
    }
}
