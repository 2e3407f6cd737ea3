import SentinelHTTP1

/// Request accounting: the one place a request begins and ends for the metrics, and where its
/// access-log line is written.
extension ProxyConnectionHandler {
    /// A request's head arrived (or failed to parse): the active-requests gauge counts it.
    func beginRequest() {
        if tally.begin() { shared.metrics.requestStarted() }
    }

    /// What the access log records of an ended request (nil: nothing, e.g. no head was parsed).
    struct AccessLogEntry {
        var facts: RequestFacts
        var version: HTTP1Version
        var bodyBytes: Int
        var traceID: String
        var upstream: UpstreamLogFields?
        var error: ProxyError?
    }

    /// Ends the request: counts it by route, method and status (and the last attempt's target
    /// sample), releases its place in the gauge if it held one, and writes its access-log line.
    func finishRequest(
        route: String?, method: String, status: Int, seconds: Double, target: TargetSample? = nil, log: AccessLogEntry?
    ) {
        shared.metrics.recordRequest(
            route: route, method: method, status: status, durationSeconds: seconds, finished: tally.finish(), target: target)
        if let log {
            logAccess(
                log.facts, version: log.version, status: status, bodyBytes: log.bodyBytes, seconds: seconds, routeID: route,
                traceID: log.traceID, upstream: log.upstream, error: log.error)
        }
    }

    /// The connection ended with a request that nothing else ended (its answer never went out).
    func abandonRequest() {
        if tally.finish() { shared.metrics.requestFinished() }
    }
}
