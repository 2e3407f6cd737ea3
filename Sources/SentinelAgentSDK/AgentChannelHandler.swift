import Logging
import NIOCore
import SentinelAgentProtocol

/// One proxy connection on the agent's side: frames in through `AgentFrameDecoder`, the pure
/// `AgentConnectionMachine` decides, events run as tasks and their answers are written when
/// they finish (in any order). Reading pauses while `maxInFlight` events run.
final class AgentChannelHandler<Handler: AgentHandler>: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handler: Handler
    private let logger: Logger
    private var decoder: AgentFrameDecoder
    private var machine: AgentConnectionMachine
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var cancelled: Set<UInt64> = []
    private var readPending = false
    private var context: ChannelHandlerContext?
    private var closing = false

    init(handler: Handler, logger: Logger, maxInFlight: Int, maxFrameLength: UInt32) {
        self.handler = handler
        self.logger = logger
        decoder = AgentFrameDecoder(maxLength: maxFrameLength)
        machine = AgentConnectionMachine(maxInFlight: maxInFlight)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelAll()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.closed()
        cancelAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { decoder.feed($0) }
        drain()
    }

    func read(context: ChannelHandlerContext) {
        if machine.shouldRead {
            context.read()
        } else {
            readPending = true
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(reason: "\(error)")
    }

    /// Takes whole frames out of the decoder while the machine accepts them.
    private func drain() {
        while !closing, machine.state != .handshaking, machine.inFlight < machine.maxInFlight {
            let frame: AgentFrame?
            do { frame = try decoder.next() } catch {
                close(reason: error.description)
                return
            }
            guard let frame else { break }
            perform(machine.received(frame))
        }
        if machine.shouldRead, readPending, let context {
            readPending = false
            context.read()
        }
    }

    private func perform(_ action: AgentConnectionMachine.Action) {
        guard let context else { return }
        switch action {
        case .handshake(let request):
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let handler = self.handler
            let logger = self.logger
            Task {
                var refusal = await handler.handshake(request)
                if refusal == nil, let config = request.config, config != .null, config != .object([:]) {
                    do { try await handler.configure(config, version: nil) } catch {
                        logger.warning("agent_config_rejected", metadata: ["source": "handshake", "reason": "\(error)"])
                        refusal = "configuration rejected: \(error)"
                    }
                }
                let capabilities = handler.capabilities
                bound.eventLoop.execute { bound.value.handshakeDecided(capabilities: capabilities, refusal: refusal) }
            }
        case .dispatch(let id, let type, let payload):
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let handler = self.handler
            tasks[id] = Task {
                let frame = await AgentDispatch.answer(type, payload, handler: handler)
                bound.eventLoop.execute { bound.value.finished(id, frame) }
            }
        case .send(let frame):
            write(frame)
        case .cancel(let ids, let message):
            for id in ids {
                cancelled.insert(id)
                tasks[id]?.cancel()
            }
            let handler = self.handler
            Task { await handler.cancelled(message) }
        case .ignore(let reason):
            logger.debug("agent_frame_ignored", metadata: ["reason": "\(reason)"])
        case .close(let reason):
            close(reason: reason)
        }
    }

    private func handshakeDecided(capabilities: AgentCapabilities, refusal: String?) {
        guard !closing else { return }
        let (frame, close) = machine.handshakeDecided(capabilities: capabilities, refusal: refusal)
        write(frame)
        if close {
            logger.info("agent_handshake_refused", metadata: ["reason": "\(refusal ?? "")"])
            closing = true
            context?.close(promise: nil)
            return
        }
        drain()
    }

    private func finished(_ id: UInt64, _ frame: AgentFrame?) {
        tasks[id] = nil
        machine.completed(id)
        if cancelled.remove(id) == nil, let frame, !closing { write(frame) }
        drain()
    }

    private func write(_ frame: AgentFrame) {
        guard let context, !closing else { return }
        var out: [UInt8] = []
        do { try AgentFrame.append(type: frame.type, payload: frame.payload, to: &out) } catch {
            logger.error("agent_frame_too_large", metadata: ["type": "\(frame.type)"])
            return
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
    }

    private func close(reason: String) {
        guard !closing else { return }
        closing = true
        logger.info("agent_connection_closed", metadata: ["reason": "\(reason)"])
        machine.closed()
        cancelAll()
        context?.close(promise: nil)
    }

    private func cancelAll() {
        for t in tasks.values { t.cancel() }
        for id in tasks.keys { cancelled.insert(id) }
    }
}
