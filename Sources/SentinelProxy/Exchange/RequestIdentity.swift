import SentinelHTTP1

/// Who a request in flight is: what every record of it names (metrics, the access log, an error
/// answer's trace id), whichever way it ends — a local answer, a builtin or a proxied exchange.
/// Fixed when admission has routed the request; protocol-neutral (an HTTP/2 stream has one too).
struct RequestIdentity {
    var method: HTTP1Method
    /// The method as metrics and logs spell it.
    var methodName: String
    var routeID: String?
    var traceID: String
    /// When the request started (monotonic nanoseconds): its duration is measured from here.
    var startNanos: UInt64

    var isHead: Bool { method == .head }
}
