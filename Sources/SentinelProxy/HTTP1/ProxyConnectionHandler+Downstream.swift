import NIOCore
import SentinelHTTP1

/// The HTTP/1 side of a proxied exchange: the connection handler is the exchange's `Downstream`
/// (one exchange at a time per connection). What is HTTP/1 about a response lives here: the
/// head's bytes, `Connection` persistence (keep-alive, HTTP/1.0, quiesce), chunk framing passed
/// through or stripped for an HTTP/1.0 client, and the serialised error answer.
extension ProxyConnectionHandler: Downstream {
    /// The host's (a reactor session's site; nil on NIO).
    var upstreamSite: (any UpstreamSite)? { host.upstreamSite }

    var connectionFacts: ConnectionFacts {
        ConnectionFacts(
            peer: clientIP, peerBytes: clientIPBytes, peerIsIPv6: clientIsIPv6, scheme: listener?.tls != nil ? "https" : "http",
            tls: connectionTLS)
    }

    var requestBytes: ByteBuffer {
        _read { yield inbound }
        _modify { yield &inbound }
    }

    func writeInterimHead(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits) {
        // An HTTP/1.0 client must never get a 1xx response (RFC 9110 §15.2).
        guard requestVersion != .http1_0 else { return }
        var out = host.allocator.buffer(capacity: head.headLength + 576)
        HeadWriter.response(
            head, bytes: bytes, edits: .init(fields: edits, close: false, http10KeepAlive: false, dechunk: false, upgrade: false),
            into: &out)
        writeAndFlush(out)
    }

    func writeResponseHead(
        _ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits, keepAlive: Bool,
        inlineBody: Int
    ) -> ResponseDelivery {
        let http10 = requestVersion == .http1_0
        let delivery = Self.delivery(of: head.framing, http10: http10, keepAlive: keepAlive, quiescing: quiescing)
        let close = delivery.closesConnection
        var edits = HeadWriter.ResponseEdits(
            fields: edits, close: close, http10KeepAlive: http10 && !close, dechunk: delivery.stripsChunking, upgrade: false)
        edits.hsts = listener?.hstsField
        var out = headBuffer(&spareResponseHead, capacity: HeadWriter.responseBound(head, edits: edits) + inlineBody)
        HeadWriter.response(head, bytes: bytes, edits: edits, into: &out)
        if inlineBody > 0 {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[head.headLength..<(head.headLength + inlineBody)]))
        }
        write(out)
        keepHeadBuffer(out, in: &spareResponseHead)
        return delivery
    }

    /// How an HTTP/1 client gets a response framed as `framing`. An HTTP/1.0 client cannot read
    /// chunked framing: it gets the data, delimited by the close. A body delimited by the
    /// upstream's close is delimited by the client's too. A draining connection closes.
    static func delivery(of framing: ResponseFraming, http10: Bool, keepAlive: Bool, quiescing: Bool) -> ResponseDelivery {
        let dechunk = framing == .chunked && http10
        return ResponseDelivery(
            closesConnection: !keepAlive || quiescing || framing == .untilClose || dechunk, stripsChunking: dechunk)
    }

    func writeSwitchingHead(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits) {
        var edits = HeadWriter.ResponseEdits(fields: edits, close: false, http10KeepAlive: false, dechunk: false, upgrade: true)
        edits.hsts = listener?.hstsField
        var out = host.allocator.buffer(capacity: HeadWriter.responseBound(head, edits: edits))
        HeadWriter.response(head, bytes: bytes, edits: edits, into: &out)
        write(out)
    }

    func startTunnel() {
        if let exchange = machine.exchange { machine.tunnel(exchange) }
    }

    @inline(__always)
    func writeBody(_ buffer: ByteBuffer) { write(buffer) }

    func writeAnswer(_ response: BuiltinResponse, isHead: Bool, keepAlive: Bool) {
        var response = response
        if let hsts = listener?.hstsField { response.headers.append(("Strict-Transport-Security", Self.hstsValue(hsts))) }
        writeAndFlush(host.allocator.buffer(bytes: response.serialized(
            includeBody: !isHead, close: !keepAlive, date: pool.date.currentFieldLine(), http10KeepAlive: requestVersion == .http1_0)))
    }

    func finish(keepAlive: Bool, now: UInt64?) {
        exchangeFinished(keepAlive: keepAlive, now: now)
    }

    func reset() { close() }

    func setExchangeDeadline(_ deadline: UInt64, of exchange: ProxyExchange, now: UInt64) {
        perform(machine.setExchangeDeadline(deadline, of: exchange), now: now)
    }

    func clearExchangeDeadline(of exchange: ProxyExchange) {
        // Ignored by the machine when `exchange` is no longer the connection's: a finished
        // exchange must not clear the deadline of the one that followed it.
        _ = machine.setExchangeDeadline(0, of: exchange)
    }

    func requestEnded(
        route: String?, method: String, status: Int, seconds: Double, target: TargetSample?, log: () -> ExchangeLogFields
    ) {
        finishRequest(
            route: route, method: method, status: status, seconds: seconds, target: target,
            log: currentFacts.map { facts in
                let fields = log()
                return AccessLogEntry(
                    facts: facts, version: requestVersion, bodyBytes: fields.bodyBytes, traceID: fields.traceID,
                    upstream: fields.upstream, error: fields.error)
            })
    }

    /// What exchanges on this listener take from the snapshot (computed once per snapshot).
    static func exchangeSettings(_ snapshot: ServerSnapshot, listener: ServerSnapshot.Listener?) -> ExchangeSettings {
        let rate = bodyRate(listener)
        return ExchangeSettings(
            responseLimits: snapshot.limits.request, via: snapshot.forwarding.viaPseudonym, bodyNanosPerByte: rate.nanosPerByte,
            bodyGraceNanos: rate.graceNanos, clientStallTimeout: listener?.requestTimeout ?? .seconds(60))
    }
}
