import SentinelPolicy

/// Why a proxied exchange failed: who failed, what happened, whether another attempt may help,
/// and the facts an operator needs ("connect to 10.0.0.7:8080 timed out after 2s, route "api"").
///
/// Built only when something fails (the success path never creates one). Everything that
/// depends on the kind is decided here, once: the status the client gets (`status`), whether
/// the retry rules may replay it (`retryFailure`), what passive health learns (`healthFailure`),
/// the metric label (`kind.rawValue`) and the operator text (`description`). `ProxyExchange.fail(_:)` is
/// the one way out: it answers or resets the client, records metrics and writes the access log
/// exactly once, with this error as the reason.
///
/// A new outcome (an HTTP/2 stream reset or GOAWAY from the upstream, say) is one new `Kind`
/// case: the compiler then names every decision above that needs a line for it, all in this file.
struct ProxyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Who failed.
    enum Source: String, Sendable {
        /// The client: a request no route or policy admits, a head or body malformed, too large
        /// or too slow, a response it stopped reading, or it went away.
        case client
        /// The upstream or the way to it: connect, response head or body, timeouts.
        case upstream
        /// Sentinel itself (a configuration it could not act on, an internal inconsistency).
        case sentinel
    }

    enum Kind: String, Sendable, Hashable, CaseIterable {
        // The upstream, before a target took the request.
        /// No target is eligible (all unhealthy or behind an open breaker).
        case noHealthyTarget = "no_healthy_target"
        /// The target's connection limit is reached.
        case connectionLimit = "connection_limit"
        /// The connect failed (refused, reset, unreachable, not resolved: see `cause`).
        case connectFailed = "connect_failed"
        case connectTimeout = "connect_timeout"
        /// Connected, but the TLS handshake failed: the certificate did not verify (unknown CA,
        /// wrong name, expired), the upstream refused ours or sent an alert, or the handshake
        /// did not complete within the connect timeout (see `cause`).
        case tlsHandshakeFailed = "tls_handshake_failed"
        // The upstream, after the request was (partly) sent.
        /// The connection closed before any response byte (a stale keep-alive connection, or a crash).
        case closedBeforeResponse = "closed_before_response"
        /// Nothing arrived for the upstream's read timeout.
        case responseTimeout = "response_timeout"
        /// The whole exchange did not complete within the upstream's request timeout.
        case requestTimeout = "request_timeout"
        /// The upstream accepted no request bytes for its write timeout.
        case writeTimeout = "write_timeout"
        case malformedResponseHead = "malformed_response_head"
        /// A 101 the client did not ask for (only a WebSocket upgrade is ever tunnelled).
        case unexpectedUpgrade = "unexpected_upgrade"
        /// The response body's framing was invalid (after the head went to the client).
        case malformedResponseBody = "malformed_response_body"
        /// The connection closed in the middle of a response body.
        case closedMidResponse = "closed_mid_response"
        // The client.
        /// No route matches the request (and the listener has no default route).
        case noRoute = "no_route"
        /// The path has a `.` or `..` segment: refused rather than guessed at.
        case unsafePath = "unsafe_path"
        /// An `Upgrade` other than a WebSocket, or on a route that does not allow WebSocket.
        case upgradeRefused = "upgrade_refused"
        /// The request head did not arrive within the listener's header timeout.
        case clientHeadTooSlow = "client_head_too_slow"
        case clientBodyMalformed = "client_body_malformed"
        case clientBodyTooLarge = "client_body_too_large"
        /// The body arrived slower than the listener's minimum rate, or not within the request timeout.
        case clientBodyTooSlow = "client_body_too_slow"
        /// The client stopped reading the response for longer than the listener's request timeout.
        case clientStalled = "client_stalled"
        case clientClosed = "client_closed"
        // Sentinel's filters (phase 3).
        /// A filter could not decide (its backend is down) and its failure mode is closed.
        case filterFailed = "filter_failed"
        /// A filter's verdict did not come in time: its own bound (closed), or the request timeout.
        case filterTimedOut = "filter_timed_out"
        // Sentinel.
        case `internal`
    }

    var kind: Kind
    /// The upstream's id.
    var upstream: String?
    /// The target's address as configured (`host:port`).
    var target: String?
    var route: String?
    /// The timeout that expired, for the timeout kinds.
    var deadline: Duration?
    /// The underlying error in a word (`refused`, `reset`, `unreachable`…), when there is one.
    var cause: String?

    init(
        _ kind: Kind, upstream: String? = nil, target: String? = nil, route: String? = nil, deadline: Duration? = nil,
        cause: String? = nil
    ) {
        self.kind = kind
        self.cause = cause
        self.upstream = upstream
        self.target = target
        self.route = route
        self.deadline = deadline
    }

    var source: Source {
        switch kind {
        case .noHealthyTarget, .connectionLimit, .connectFailed, .connectTimeout, .tlsHandshakeFailed, .closedBeforeResponse,
            .responseTimeout, .requestTimeout, .writeTimeout, .malformedResponseHead, .unexpectedUpgrade,
            .malformedResponseBody, .closedMidResponse:
            return .upstream
        case .noRoute, .unsafePath, .upgradeRefused, .clientHeadTooSlow, .clientBodyMalformed, .clientBodyTooLarge,
            .clientBodyTooSlow, .clientStalled, .clientClosed:
            return .client
        case .filterFailed, .filterTimedOut, .internal:
            return .sentinel
        }
    }

    /// The status of the answer, when the client can still get one; the status recorded for a
    /// request whose response never started. The one place statuses of failures are chosen.
    static func status(for kind: Kind) -> Int {
        switch kind {
        // Refused everywhere or nothing eligible: the service is down (spec §5.3), answered at once.
        case .noHealthyTarget, .connectionLimit, .connectFailed: return 503
        case .connectTimeout, .responseTimeout, .requestTimeout, .writeTimeout: return 504
        // A target that answers TCP but not with a TLS server Sentinel trusts: a bad gateway.
        case .tlsHandshakeFailed, .closedBeforeResponse, .malformedResponseHead, .unexpectedUpgrade, .malformedResponseBody,
            .closedMidResponse:
            return 502
        case .noRoute: return 404
        case .unsafePath, .clientBodyMalformed: return 400
        case .upgradeRefused: return 403
        case .clientBodyTooLarge: return 413
        case .clientHeadTooSlow, .clientBodyTooSlow, .clientStalled: return 408
        // nginx's "client closed request": never sent, only recorded.
        case .clientClosed: return 499
        case .filterFailed: return 503
        case .filterTimedOut: return 504
        case .internal: return 500
        }
    }

    var status: Int { Self.status(for: kind) }

    /// The failure as the retry rules see it; nil: never replayed (after it, the request may
    /// have had an effect, or another target cannot help).
    var retryFailure: UpstreamFailure? {
        switch kind {
        // Nothing of the request was sent: another target may have a good certificate.
        case .connectFailed, .connectionLimit, .tlsHandshakeFailed: return .connectRefused
        case .connectTimeout: return .connectTimeout
        case .closedBeforeResponse: return .reusedConnectionClosed
        case .responseTimeout: return .readTimeout
        case .noHealthyTarget, .requestTimeout, .writeTimeout, .malformedResponseHead, .unexpectedUpgrade,
            .malformedResponseBody, .closedMidResponse, .noRoute, .unsafePath, .upgradeRefused, .clientHeadTooSlow,
            .clientBodyMalformed, .clientBodyTooLarge, .clientBodyTooSlow, .clientStalled, .clientClosed, .filterFailed,
            .filterTimedOut, .internal:
            return nil
        }
    }

    /// Whether another attempt may be made (still subject to the route's rules and budget).
    var isRetryable: Bool { retryFailure != nil }

    /// What passive health and the balancer learn about the target; nil: nothing against it (the
    /// target did nothing wrong, or the failure is counted elsewhere).
    var healthFailure: UpstreamHealth.FailureKind? {
        switch kind {
        case .connectFailed, .tlsHandshakeFailed: return .connectFailed
        case .connectTimeout: return .connectTimeout
        case .closedBeforeResponse, .closedMidResponse: return .closed
        case .responseTimeout, .requestTimeout, .writeTimeout: return .readTimeout
        case .malformedResponseHead, .unexpectedUpgrade: return .invalidResponse
        case .noHealthyTarget, .connectionLimit, .malformedResponseBody, .noRoute, .unsafePath, .upgradeRefused,
            .clientHeadTooSlow, .clientBodyMalformed, .clientBodyTooLarge, .clientBodyTooSlow, .clientStalled,
            .clientClosed, .filterFailed, .filterTimedOut, .internal:
            return nil
        }
    }

    /// Whether the client can be sent an answer (when no response byte went out yet). A client
    /// that left or stopped reading only gets its connection closed.
    var canAnswerClient: Bool { kind != .clientClosed && kind != .clientStalled }

    /// For operators: what failed, where, after how long; then the route.
    var description: String {
        let target = self.target ?? upstream.map { "upstream \"\($0)\"" } ?? "the upstream"
        let span = deadline.map(Self.format)
        let after = span.map { " after \($0)" } ?? ""
        let lasting = span.map { " for \($0)" } ?? " in time"
        var text: String
        switch kind {
        case .noHealthyTarget: text = "upstream \"\(upstream ?? "?")\" has no healthy target"
        case .connectionLimit: text = "connection limit of \(target) reached"
        case .connectFailed: text = "connect to \(target) failed\(cause.map { " (\($0))" } ?? "")"
        case .connectTimeout: text = "connect to \(target) timed out\(after)"
        case .tlsHandshakeFailed: text = "TLS handshake with \(target) failed\(cause.map { ": \($0)" } ?? "")"
        case .closedBeforeResponse: text = "\(target) closed the connection before responding\(cause.map { " (\($0))" } ?? "")"
        case .responseTimeout: text = "\(target) sent nothing\(lasting)"
        case .requestTimeout: text = "\(target) did not complete the response within the request timeout\(span.map { " of \($0)" } ?? "")"
        case .writeTimeout: text = "\(target) accepted no request bytes\(lasting)"
        case .malformedResponseHead: text = "\(target) sent an invalid response head"
        case .unexpectedUpgrade: text = "\(target) answered 101 without switching to the WebSocket the client asked for"
        case .malformedResponseBody: text = "\(target) sent an invalid response body"
        case .closedMidResponse: text = "\(target) closed the connection in the middle of the response"
        case .noRoute: text = "no route matches the request"
        case .unsafePath: text = "the path has a dot segment"
        case .upgradeRefused: text = "upgrade refused (only WebSocket, on a route that allows it)"
        case .clientHeadTooSlow: text = "client did not send the request head in time"
        case .clientBodyMalformed: text = "client sent a malformed request body"
        case .clientBodyTooLarge: text = "client sent a request body over the limit"
        case .clientBodyTooSlow: text = "client sent the request body too slowly"
        case .clientStalled: text = "client stopped reading the response\(span.map { " for \($0)" } ?? "")"
        case .clientClosed: text = "client closed the connection"
        case .filterFailed: text = "a filter could not decide\(cause.map { ": \($0)" } ?? "")"
        case .filterTimedOut: text = "a filter's verdict did not come in time\(cause.map { ": \($0)" } ?? "")"
        case .internal: text = "internal error\(cause.map { ": \($0)" } ?? "")"
        }
        if let route { text += ", route \"\(route)\"" }
        return text
    }

    /// `2s`, `1500ms`, `250ms`: whole seconds when exact, else milliseconds.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds)s" }
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }
}
