import NIOCore
import SentinelHTTP1

extension ProxyExchange {
    // MARK: - Tunnel (after 101)

    func becomeTunnel() {
        lifecycle.becameTunnel()
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
            clock.lastUpstreamActivity = shared.clock.monotonicNanos()
            attemptMetrics.tunnelledOut += handler.inbound.readableBytes
            connection.writeAndFlush(handler.inbound.readSlice(length: handler.inbound.readableBytes)!)
            handler.inbound = ProxyConnectionHandler.noBytes
        }
    }

    func tunnelRead(_ buffer: ByteBuffer) {
        let now = shared.clock.monotonicNanos()
        clock.lastUpstreamActivity = now
        attemptMetrics.received(buffer.readableBytes, at: now)
        handler.write(buffer)
    }

    func finishTunnel() {
        guard lifecycle.finish() != nil else { return }
        disarmTimer()
        report(.success)
        connection?.channel.close(promise: nil)
        connection = nil
        record(status: 101)
        handler.flush()
        handler.close()
    }
}
