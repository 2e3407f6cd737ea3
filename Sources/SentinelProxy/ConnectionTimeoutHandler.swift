import NIOCore

/// Signals from the HTTP handler to the timeout handler (sent as outbound user events, which
/// travel toward the front of the pipeline where the timeout handler sits).
enum ConnectionEvent: Sendable {
    case headReceived
    case responseCompleted
}

/// Enforces the request-head deadline and the keep-alive idle timeout on raw bytes.
///
/// It exists because a per-read idle timer lets a slowloris client keep a connection by
/// trickling one byte at a time; this deadline is total: from the first byte of a head (or the
/// connection's start) to the head's end. Idle keep-alive connections are closed silently;
/// a late head gets 408 JSON and a close. Sits before the HTTP decoder.
final class ConnectionTimeoutHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case awaitingHead
        case inRequest
        case idle
        case closed
    }

    private let shared: ServerShared
    private let listenerID: String
    private var phase = Phase.awaitingHead
    private var timer: Scheduled<Void>?
    private var timerGeneration = 0

    init(shared: ServerShared, listenerID: String) {
        self.shared = shared
        self.listenerID = listenerID
    }

    private var listener: ServerSnapshot.Listener? { shared.snapshot.listener(id: listenerID) }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context: context, after: listener?.requestTimeout ?? .seconds(60))
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        cancelTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = phase {
            phase = .awaitingHead
            startTimer(context: context, after: listener?.requestTimeout ?? .seconds(60))
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let event = event as? ConnectionEvent else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch (event, phase) {
        case (_, .closed):
            break
        case (.headReceived, _):
            phase = .inRequest
            cancelTimer()
        case (.responseCompleted, _):
            phase = .idle
            startTimer(context: context, after: listener?.keepaliveTimeout ?? .seconds(75))
        }
        promise?.succeed()
    }

    private func startTimer(context: ChannelHandlerContext, after duration: Duration) {
        cancelTimer()
        timerGeneration += 1
        let generation = timerGeneration
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: duration.timeAmount) {
            let (handler, context) = loopBound.value
            handler.timerFired(context: context, generation: generation)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func timerFired(context: ChannelHandlerContext, generation: Int) {
        guard generation == timerGeneration else { return }
        timer = nil
        switch phase {
        case .awaitingHead:
            phase = .closed
            let traceID = shared.newTraceID()
            let response = BuiltinHandlers.error(408, traceID: traceID)
            shared.metrics.recordRequest(route: nil, method: "OTHER", status: 408, durationSeconds: 0)
            let bytes = response.serialized(includeBody: true, close: true)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: bytes))).whenComplete { _ in
                channel.close(promise: nil)
            }
        case .idle:
            phase = .closed
            context.close(promise: nil)
        case .inRequest, .closed:
            break
        }
    }
}

@available(*, unavailable)
extension ConnectionTimeoutHandler: Sendable {}
