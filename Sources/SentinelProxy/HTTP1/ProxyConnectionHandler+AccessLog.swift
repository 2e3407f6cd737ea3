import SentinelHTTP1
import SentinelTLS

/// One access-log record per finished request (local reply or proxied exchange).
extension ProxyConnectionHandler {
    func logAccess(
        _ facts: RequestFacts, version: HTTP1Version, status: Int, bodyBytes: Int, seconds: Double, routeID: String?,
        traceID: String, upstream: UpstreamLogFields?, error: ProxyError? = nil
    ) {
        guard let settings = snapshot.accessLog, let file = shared.accessLogFile else { return }
        let record = AccessRecord(
            unixSeconds: shared.clock.wallSeconds(), traceID: traceID, method: facts.method, path: facts.path,
            query: facts.query, httpVersion: version == .http1_0 ? "HTTP/1.0" : "HTTP/1.1", status: status,
            bodyBytes: bodyBytes, durationSeconds: seconds, clientIP: currentClientIP, userAgent: facts.userAgent,
            referer: facts.referer, host: facts.host, routeID: routeID, upstream: upstream?.id,
            upstreamAddress: upstream?.address, upstreamAttempts: upstream?.attempts ?? 0,
            connectionReused: upstream?.reused, tls: tlsFacts(), error: error?.description)
        accessLog.record(record, settings: settings, file: file)
    }

    /// The handshake facts of this connection (HTTPS listeners only; handed over by the TLS
    /// handler when the handshake completed).
    func tlsFacts() -> TLSConnectionFacts? {
        connectionTLS?.facts
    }
}
