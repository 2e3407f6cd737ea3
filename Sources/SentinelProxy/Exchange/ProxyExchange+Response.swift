import NIOCore
import SentinelHTTP1

/// Largest body copied into the head's buffer (a copy that costs less than a second write).
private let inlineBodyLimit: UInt64 = 8192

/// The response half of an exchange: the upstream's head (interim, final, 101), then its body by
/// framing, validated as it passes.
extension ProxyExchange {
    func processResponse() {
        while true {
            if !haveResponseHead {
                guard responseBuffer.readableBytes > 0 else { return }
                let result = responseBuffer.withUnsafeReadableBytes { responseParser.parseInPlace($0, requestMethod: method) }
                switch result {
                case .needMore:
                    return
                case .error:
                    upstreamReusable = false
                    fail(upstreamError(.malformedResponseHead))
                    return
                case .complete:
                    // One copy out of the parser (a retry or an interim response resets it).
                    let head = responseParser.completedHead
                    if head.isInterim {
                        // 100 Continue was answered by Sentinel itself; other 1xx (103) are forwarded
                        // (a downstream whose client must never get one drops it).
                        if head.status != 100 {
                            responseBuffer.withUnsafeReadableBytes {
                                downstream.writeInterimHead(head, bytes: $0, edits: ResponseHeadEdits(traceID: traceID, via: via))
                            }
                        }
                        responseBuffer.moveReaderIndex(forwardBy: head.headLength)
                        responseParser.reset()
                        continue
                    }
                    startResponse(head)
                    if lifecycle.isDone { return }
                    // A 101 turned the connection into a tunnel: its bytes are no longer a response
                    // body (treating them as one would end the exchange and drop the tunnel).
                    if lifecycle.isTunnel { return }
                }
            }
            flushResponseBuffer()
            return
        }
    }

    func startResponse(_ head: ResponseHead) {
        lifecycle.responseHeadReceived()
        status = head.status
        if rules.retryableStatuses.contains(head.status), requestComplete, !upgrade {
            // A retryable status with attempts and budget left: this response is discarded (and
            // its connection closed) and the request replayed on another target. Otherwise the
            // upstream's own response goes to the client.
            report(.failure(.serverError))
            if retried(after: .status(head.status)) { return }
        }
        if let plan = fallback, plan.onErrorCodes.contains(head.status), requestComplete, requestBytesSent == 0, !upgrade {
            report(.failure(.serverError))
            if switchToFallback(reason: "status_\(head.status)") { return }
        }
        if head.status == 101 {
            let switchesToWebSocket = head.upgrade.map { range in
                responseBuffer.withUnsafeReadableBytes { HeaderBytes.equals($0, range, "websocket") }
            } ?? false
            guard upgrade, head.isUpgrade101, switchesToWebSocket else {
                upstreamReusable = false
                fail(upstreamError(.unexpectedUpgrade))
                return
            }
            lifecycle.responseStarted(complete: false)
            responseBuffer.withUnsafeReadableBytes {
                downstream.writeSwitchingHead(
                    head, bytes: $0, edits: ResponseHeadEdits(traceID: traceID, policy: responsePolicy, via: via))
            }
            responseBuffer.moveReaderIndex(forwardBy: head.headLength)
            becomeTunnel()
            return
        }
        responseFraming = head.framing
        switch head.framing {
        case .contentLength(let n): responseRemaining = n
        case .chunked: responseChunked = ChunkedDecoder(limits: responseParser.limits, sender: .upstream)
        case .untilClose, .tunnel: upstreamReusable = false
        case .none: break
        }
        if !head.keepAlive { upstreamReusable = false }
        let policy =
            responseHook.map {
                $0.policy(
                    status: Int(head.status), base: responsePolicy,
                    context: ResponseContext(routeID: request.routeID, traceID: traceID, logger: shared.health.logger))
            } ?? responsePolicy
        var edits = ResponseHeadEdits(
            traceID: traceID, policy: policy, setCookie: stickySetCookie, extra: fallbackFields, via: via, date: pool.date)
        // A `compress` route: the client's head says chunked (or, for HTTP/1.0, the close) and
        // the coding; the upstream's framing still delimits what Sentinel reads.
        var head = head
        if compression != nil, let coding = startCompression(head) {
            edits.contentCoding = coding
            head.framing = .chunked
        }
        // A small body that is already here goes out in the head's buffer: one write through the
        // pipeline and one iovec instead of two (most API responses fit).
        var inlineBody = 0
        if case .contentLength(let n) = head.framing, n > 0, n <= inlineBodyLimit,
            responseBuffer.readableBytes - head.headLength >= Int(n)
        {
            inlineBody = Int(n)
        }
        let delivery = responseBuffer.withUnsafeReadableBytes {
            downstream.writeResponseHead(
                head, bytes: $0, edits: edits, keepAlive: clientKeepAlive && requestComplete, inlineBody: inlineBody)
        }
        responseBuffer.moveReaderIndex(forwardBy: head.headLength + inlineBody)
        willCloseClient = delivery.closesConnection
        dechunk = delivery.stripsChunking
        compressor?.chunked = !delivery.stripsChunking
        if inlineBody > 0 {
            responseRemaining = 0
            responseBodyBytes += inlineBody
        }
        // The head went out (with the whole response when its body was inline, or it has none).
        lifecycle.responseStarted(
            complete: compressor == nil && (inlineBody > 0 || head.framing == .none || head.framing == .contentLength(0)))
    }


    /// Sends buffered upstream body bytes to the client, per the response framing.
    func flushResponseBuffer() {
        guard haveResponseHead, !responseComplete else {
            if responseComplete, responseBuffer.readableBytes > 0 {
                // Bytes after the end of the response: the upstream is confused.
                upstreamReusable = false
                responseBuffer.clear()
            }
            maybeFinish()
            return
        }
        // false: the exchange failed (a malformed chunked body).
        guard compressor != nil ? flushCompressedResponseBuffer() : flushIdentityResponseBuffer() else { return }
        if responseComplete, responseBuffer.readableBytes > 0 {
            upstreamReusable = false
            responseBuffer.clear()
        }
        if responseComplete { downstream.flush() }
        maybeFinish()
    }

    /// The body bytes in `responseBuffer` go to the client as they are (chunk framing kept
    /// unless the client needs it stripped).
    private func flushIdentityResponseBuffer() -> Bool {
        switch responseFraming {
        case .contentLength:
            let n = Int(min(responseRemaining, UInt64(responseBuffer.readableBytes)))
            if n > 0 {
                downstream.writeBody(responseBuffer.readSlice(length: n)!)
                responseRemaining -= UInt64(n)
                responseBodyBytes += n
            }
            if responseRemaining == 0 { lifecycle.responseCompleted() }
        case .chunked:
            var failed = false
            while responseBuffer.readableBytes > 0, !responseComplete, !failed {
                let step = responseBuffer.withUnsafeReadableBytes { responseChunked!.decode($0) }
                switch step {
                case .data(let r):
                    responseBodyBytes += r.count
                    if dechunk {
                        responseBuffer.moveReaderIndex(forwardBy: r.lowerBound)
                        downstream.writeBody(responseBuffer.readSlice(length: r.count)!)
                    } else {
                        downstream.writeBody(responseBuffer.readSlice(length: r.upperBound)!)
                    }
                case .needMore(let consumed):
                    if dechunk { responseBuffer.moveReaderIndex(forwardBy: consumed) } else { downstream.writeBody(responseBuffer.readSlice(length: consumed)!) }
                case .done(let consumed):
                    if dechunk { responseBuffer.moveReaderIndex(forwardBy: consumed) } else { downstream.writeBody(responseBuffer.readSlice(length: consumed)!) }
                    lifecycle.responseCompleted()
                case .error:
                    failed = true
                }
            }
            if failed {
                upstreamReusable = false
                fail(upstreamError(.malformedResponseBody))
                return false
            }
        case .untilClose:
            if responseBuffer.readableBytes > 0 {
                responseBodyBytes += responseBuffer.readableBytes
                downstream.writeBody(responseBuffer.readSlice(length: responseBuffer.readableBytes)!)
            }
        case .none, .tunnel:
            lifecycle.responseCompleted()
        }
        return true
    }
}
