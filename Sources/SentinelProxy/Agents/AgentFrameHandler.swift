import NIOCore
import SentinelAgentProtocol

/// Turns a connection's bytes into agent frames for its pool. A framing error closes the
/// connection at once (the pool then fails the calls it carried and reconnects).
final class AgentFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var decoder: AgentFrameDecoder
    private let onFrame: (AgentFrame) -> Void
    private let onClose: (String) -> Void
    private var closed = false

    init(maxFrameLength: UInt32 = AgentFrame.maxLength, onFrame: @escaping (AgentFrame) -> Void, onClose: @escaping (String) -> Void) {
        decoder = AgentFrameDecoder(maxLength: maxFrameLength)
        self.onFrame = onFrame
        self.onClose = onClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { decoder.feed($0) }
        do {
            while !closed, let frame = try decoder.next() { onFrame(frame) }
        } catch {
            end(context, "framing error: \(error)")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !closed {
            closed = true
            let reason = (try? decoder.finish()) == nil ? "connection closed inside a frame" : "connection closed by the agent"
            onClose(reason)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(context, "connection error: \(error)")
    }

    private func end(_ context: ChannelHandlerContext, _ reason: String) {
        guard !closed else { return }
        closed = true
        onClose(reason)
        context.close(promise: nil)
    }
}
