import NIOCore
import SentinelHTTP1

/// Responses Sentinel writes itself (builtin handlers, errors) once the request body is read.
extension ProxyConnectionHandler {
    /// A response Sentinel produces itself (builtin, error), sent once the body is read.
    struct LocalReply {
        var response: BuiltinResponse
        var body: BodyCounter
        var keepAlive: Bool
        var request: RequestIdentity
        var facts: RequestFacts?
        var version: HTTP1Version = .http1_1
        /// Set when the body must come from the instance view before sending.
        var instanceKind: BuiltinKind?
        /// Why the request was refused, for the access log (nil: answered, not refused).
        var error: ProxyError?
        /// The route's response edits (its `response-headers` and response-phase `headers`
        /// filters): they hold for Sentinel's own answers on the route too.
        var responseEdits: HeaderEdits? = nil

        /// Replaces the answer with the refusal `error` (its status, as JSON) on a closing connection.
        mutating func refuse(_ error: ProxyError) {
            response = BuiltinHandlers.error(error.status, traceID: request.traceID)
            keepAlive = false
            self.error = error
        }
    }

    /// The request could not even be parsed: answer and close (framing can no longer be trusted).
    func failBeforeRouting(status: Int, reason: String) {
        _ = machine.headParsed(keepAliveRequested: false)
        beginRequest()
        let traceID = shared.newTraceID()
        let reply = LocalReply(
            response: BuiltinHandlers.error(status, traceID: traceID), body: .empty, keepAlive: false,
            request: RequestIdentity(
                method: .other, methodName: "OTHER", routeID: nil, traceID: traceID, startNanos: shared.clock.monotonicNanos()))
        finishLocal(reply)
    }

    /// A builtin handler's answer to `request` (this worker's view; see `wantsInstanceAnswer`).
    func builtinResponse(_ kind: BuiltinKind, request: RequestFacts, traceID: String) -> BuiltinResponse {
        let handlerContext = BuiltinHandlers.Context(
            traceID: traceID, version: snapshot.version, instanceID: snapshot.instanceID,
            configJSON: snapshot.configJSON, unixSeconds: shared.clock.wallSeconds(),
            uptimeSeconds: shared.uptimeSeconds(),
            metricsText: { [metrics = shared.metrics, version = snapshot.version] in metrics.render(version: version) },
            upstreams: { [health = shared.health, clock = shared.clock] in
                health.snapshot(now: .nanoseconds(Int64(clamping: clock.monotonicNanos())))
            })
        let builtinRequest = BuiltinRequest(method: request.method, path: request.path, query: request.query, headers: request.routedHeaders)
        return BuiltinHandlers.respond(kind, to: builtinRequest, context: handlerContext)
    }

    /// Sends a local reply and moves to the next request (or closes).
    func finishLocal(_ reply: LocalReply) {
        if let kind = reply.instanceKind, reply.response.status == 200 {
            var pending = reply
            pending.instanceKind = nil
            return fetchInstanceAnswer(pending, kind: kind) { [unowned self] in self.finishLocal($0) }
        }
        let keepAlive = reply.keepAlive && !quiescing
        var response = reply.response
        reply.responseEdits?.apply(to: &response.headers, tls: connectionTLS)
        if let hsts = listener?.hstsField {
            // Sentinel's own answers on an HTTPS listener carry the listener's HSTS too.
            response.headers.append(("Strict-Transport-Security", Self.hstsValue(hsts)))
        }
        let bytes = response.serialized(includeBody: !reply.request.isHead, close: !keepAlive, date: pool.date.currentFieldLine(),
            http10KeepAlive: reply.version == .http1_0)
        let now = shared.clock.monotonicNanos()
        let seconds = Double(now &- reply.request.startNanos) / 1e9
        finishRequest(
            route: reply.request.routeID, method: reply.request.methodName, status: reply.response.status, seconds: seconds,
            log: reply.facts.map {
                AccessLogEntry(
                    facts: $0, version: reply.version, bodyBytes: reply.request.isHead ? 0 : reply.response.body.count,
                    traceID: reply.request.traceID, upstream: nil, error: reply.error)
            })
        writeAndFlush(host.allocator.buffer(bytes: bytes))
        if case .closeAfterWrites = requestEnded(keepAlive: keepAlive, now: now) {
            host.closeAfterWrites()
        }
    }

    /// The value of a precomputed `Strict-Transport-Security: …\r\n` field line.
    static func hstsValue(_ line: [UInt8]) -> String {
        String(decoding: line.dropFirst(27).dropLast(2), as: UTF8.self)
    }
}
