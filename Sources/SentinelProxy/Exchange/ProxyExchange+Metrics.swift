/// What one attempt of an exchange moved to and from its target, for the per-target metrics.
///
/// Plain fields updated in place on the exchange's loop (a few additions per read); turned into a
/// `TargetSample` once, when the attempt ends, and recorded under the lock the request's own
/// metrics take anyway.
struct AttemptMetrics {
    /// A connection carries the current attempt (its head was written at `sentAt`).
    var open = false
    var sentAt: UInt64 = 0
    /// Clock reading of the first response byte; 0: none yet.
    var firstByteAt: UInt64 = 0
    var bytesIn = 0
    var tunnelledOut = 0
    /// The attempt opened a new connection.
    var connected = false

    mutating func begin(sentAt: UInt64, connected: Bool) {
        open = true
        self.sentAt = sentAt
        self.connected = connected
        firstByteAt = 0
        bytesIn = 0
        tunnelledOut = 0
    }

    @inline(__always)
    mutating func received(_ n: Int, at now: UInt64) {
        bytesIn &+= n
        if firstByteAt == 0 { firstByteAt = now }
    }
}

extension ProxyExchange {
    /// The metric slot of the current target.
    var metricSlot: MetricSlot {
        let slots = upstream.metricSlots
        return targetIndex < slots.count ? slots[targetIndex] : .none
    }

    /// The current attempt as a sample, once (nil when no connection carried it).
    func takeAttemptSample() -> TargetSample? {
        guard attemptMetrics.open else { return nil }
        attemptMetrics.open = false
        let a = attemptMetrics
        return TargetSample(
            slot: metricSlot, requestBytes: headBytes.readableBytes + requestBytesSent + a.tunnelledOut,
            responseBytes: a.bytesIn,
            firstByteSeconds: a.firstByteAt == 0 ? nil : Double(a.firstByteAt &- a.sentAt) / 1e9,
            connected: a.connected)
    }

    /// Records an attempt that ends without finishing the request (a retry follows).
    func endAttemptMetrics() {
        if let sample = takeAttemptSample() { shared.metrics.recordAttempt(sample) }
    }

    func countConnectError(_ reason: ConnectErrorReason) {
        shared.metrics.upstreamConnectError(slot: metricSlot, reason: reason)
    }

    /// A failure reported to health that is an error of the response (connect failures are
    /// counted where the connect fails, with their reason; a 5xx is a response).
    func countResponseError(_ kind: UpstreamHealth.FailureKind) {
        let reason: ResponseErrorReason
        switch kind {
        case .readTimeout: reason = .timeout
        case .closed: reason = .closed
        case .invalidResponse: reason = .malformed
        case .connectFailed, .connectTimeout, .serverError: return
        }
        shared.metrics.upstreamResponseError(slot: metricSlot, reason: reason)
    }
}
