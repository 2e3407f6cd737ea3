import NIOCore
import NIOHTTP1
import SentinelPolicy

/// Serves builtin routes on one HTTP/1.1 connection: limits, routing, handler, metrics, keep-alive.
///
/// It exists to keep the NIOHTTP1 plumbing thin around the pure parts (`RequestLimits`,
/// `Router`/`RouteCache`, `BuiltinHandlers`). Responses are written as raw bytes (no response
/// encoder) because every response here is complete when produced. Requests on a connection are
/// answered strictly in order; bodies are read and discarded up to `maxBodyBytes`.
final class BuiltinHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var snapshot: ServerSnapshot
        var request: BuiltinRequest
        var routeIndex: Int?
        var traceID: String
        var startNanos: UInt64
        var bodyBytes = 0
        var isHead: Bool
        var keepAlive: Bool
    }

    private enum State {
        case idle
        case reading(Pending)
        /// An error response went out; the connection closes and further input is ignored.
        case closing
    }

    private let shared: ServerShared
    private let listenerID: String
    private let routeCache: NIOLoopBoundBox<RouteCache>
    private var state = State.idle
    private var requestCount = 0
    private var quiescing = false

    init(shared: ServerShared, listenerID: String, routeCache: NIOLoopBoundBox<RouteCache>) {
        self.shared = shared
        self.listenerID = listenerID
        self.routeCache = routeCache
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            receivedHead(head, context: context)
        case (.body(let buffer), .reading(var pending)):
            pending.bodyBytes += buffer.readableBytes
            if pending.bodyBytes > pending.snapshot.limits.maxBodyBytes {
                finish(pending, response: BuiltinHandlers.error(413, traceID: pending.traceID), close: true, context: context)
            } else {
                state = .reading(pending)
            }
        case (.end, .reading(let pending)):
            respond(pending, context: context)
        case (_, .closing):
            break
        default:
            // A part out of order cannot come from the decoder; be careful and close.
            state = .closing
            context.close(promise: nil)
        }
    }

    private func receivedHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        requestCount += 1
        context.triggerUserOutboundEvent(ConnectionEvent.headReceived, promise: nil)
        shared.metrics.requestStarted()
        let snapshot = shared.snapshot
        let start = shared.clock.monotonicNanos()
        var rng = SystemRandomNumberGenerator()
        let traceID = TraceID.resolve(
            headerValue: { head.headers[canonicalForm: $0].first.map(String.init) },
            format: snapshot.traceIDFormat, unixSeconds: shared.clock.wallSeconds(), using: &rng)

        var headerBytes = 0
        for (name, value) in head.headers { headerBytes += name.utf8.count + value.utf8.count + 4 }
        let target = RequestTarget(head.uri)
        let hostHeader = head.headers["host"].first
        let limitsHead = RequestLimits.Head(
            uriBytes: head.uri.utf8.count, headerBytes: headerBytes, headerCount: head.headers.count,
            isHTTP11OrLater: head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1), hasHost: hostHeader != nil || target.authority != nil,
            contentLength: RequestLimits.contentLength(head.headers["content-length"]))
        var pending = Pending(
            snapshot: snapshot,
            request: BuiltinRequest(
                method: head.method.rawValue, path: target.path, query: target.query,
                headers: head.headers.map { ($0.name, $0.value) }),
            routeIndex: nil, traceID: traceID, startNanos: start, isHead: head.method == .HEAD,
            keepAlive: head.isKeepAlive)
        if let status = RequestLimits.violation(limitsHead, limits: snapshot.limits) {
            finish(pending, response: BuiltinHandlers.error(status, traceID: traceID), close: true, context: context)
            return
        }
        let routeRequest = RouteRequest(
            method: head.method.rawValue, host: target.authority ?? hostHeader ?? "", path: target.path,
            query: target.query, headerValues: { name in head.headers[name] })
        let evictionsBefore = routeCache.value.evictions
        if routeCache.value.capacity != snapshot.routeCacheSize {
            routeCache.value = RouteCache(capacity: snapshot.routeCacheSize)
        }
        pending.routeIndex =
            routeCache.value.matchIndex(routeRequest, router: snapshot.router) ?? snapshot.listener(id: listenerID)?.defaultRoute
        let evicted = routeCache.value.evictions - evictionsBefore
        if evicted > 0 { shared.metrics.routeCacheEvicted(evicted) }
        state = .reading(pending)
    }

    private func respond(_ pending: Pending, context: ChannelHandlerContext) {
        let snapshot = pending.snapshot
        let handlerContext = BuiltinHandlers.Context(
            traceID: pending.traceID, version: snapshot.version, instanceID: snapshot.instanceID,
            configJSON: snapshot.configJSON, unixSeconds: shared.clock.wallSeconds(),
            uptimeSeconds: shared.uptimeSeconds(),
            metricsText: { [metrics = shared.metrics] in metrics.render(version: snapshot.version) })
        let response: BuiltinResponse
        if let index = pending.routeIndex {
            let spec = snapshot.router.routes[index]
            if snapshot.actions.indices.contains(spec.handler), case .builtin(let kind) = snapshot.actions[spec.handler] {
                response = BuiltinHandlers.respond(kind, to: pending.request, context: handlerContext)
            } else {
                response = BuiltinHandlers.error(500, traceID: pending.traceID)
            }
        } else {
            response = BuiltinHandlers.error(404, traceID: pending.traceID)
        }
        finish(pending, response: response, close: false, context: context)
    }

    private func finish(_ pending: Pending, response: BuiltinResponse, close forceClose: Bool, context: ChannelHandlerContext) {
        let maxRequests = pending.snapshot.listener(id: listenerID)?.keepaliveMaxRequests
        let keepAlive =
            !forceClose && pending.keepAlive && !quiescing && (maxRequests.map { requestCount < $0 } ?? true)
        let bytes = response.serialized(includeBody: !pending.isHead, close: !keepAlive)
        let routeID = pending.routeIndex.map { pending.snapshot.router.routes[$0].id }
        let seconds = Double(shared.clock.monotonicNanos() &- pending.startNanos) / 1e9
        shared.metrics.recordRequest(route: routeID, method: pending.request.method, status: response.status, durationSeconds: seconds)
        shared.metrics.requestFinished()
        let written = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)))
        if keepAlive {
            state = .idle
            context.triggerUserOutboundEvent(ConnectionEvent.responseCompleted, promise: nil)
        } else {
            state = .closing
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else {
            state = .closing
            context.close(promise: nil)
            return
        }
        switch state {
        case .closing:
            return
        case .reading(let pending):
            finish(pending, response: BuiltinHandlers.error(400, traceID: pending.traceID), close: true, context: context)
        case .idle:
            shared.metrics.requestStarted()
            let status = (error as? HTTPParserError) == .headerOverflow ? 431 : 400
            let traceID = shared.newTraceID()
            let pending = Pending(
                snapshot: shared.snapshot, request: BuiltinRequest(method: "OTHER", path: ""), routeIndex: nil,
                traceID: traceID, startNanos: shared.clock.monotonicNanos(), isHead: false, keepAlive: false)
            finish(pending, response: BuiltinHandlers.error(status, traceID: traceID), close: true, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .reading = state { shared.metrics.requestFinished() }
        state = .closing
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            if case .idle = state { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension BuiltinHTTPHandler: Sendable {}

/// Splits a request target into authority (absolute-form only), path and raw query.
struct RequestTarget {
    var authority: String?
    var path: String
    var query: String

    init(_ uri: String) {
        var rest = Substring(uri)
        authority = nil
        for scheme in ["http://", "https://"] where rest.lowercased().hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
            let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            authority = String(rest[..<end])
            rest = rest[end...]
            if rest.isEmpty || rest.first == "?" { rest = "/" + rest }
            break
        }
        if let q = rest.firstIndex(of: "?") {
            path = String(rest[..<q])
            query = String(rest[rest.index(after: q)...])
        } else {
            path = String(rest)
            query = ""
        }
    }
}
