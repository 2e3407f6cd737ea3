import SentinelPolicy
import Testing

@testable import SentinelProxy

/// The error model of the data plane: every kind's status, source, retry and health meaning,
/// and the text operators read; and the request tally that ends a request exactly once.
@Suite struct ProxyErrorTests {
    /// The one mapping from failure to status, for every kind (a new kind fails here until it
    /// has a row).
    @Test func everyKindHasItsStatusAndSource() {
        let expected: [ProxyError.Kind: (Int, ProxyError.Source)] = [
            .noHealthyTarget: (503, .upstream), .connectionLimit: (503, .upstream), .connectFailed: (503, .upstream),
            .connectTimeout: (504, .upstream), .tlsHandshakeFailed: (502, .upstream), .closedBeforeResponse: (502, .upstream), .responseTimeout: (504, .upstream),
            .requestTimeout: (504, .upstream), .writeTimeout: (504, .upstream), .malformedResponseHead: (502, .upstream),
            .unexpectedUpgrade: (502, .upstream), .malformedResponseBody: (502, .upstream),
            .closedMidResponse: (502, .upstream), .noRoute: (404, .client), .unsafePath: (400, .client),
            .upgradeRefused: (403, .client), .clientHeadTooSlow: (408, .client), .clientBodyMalformed: (400, .client), .clientBodyTooLarge: (413, .client),
            .clientBodyTooSlow: (408, .client), .clientStalled: (408, .client), .clientClosed: (499, .client),
            .filterFailed: (503, .sentinel), .filterTimedOut: (504, .sentinel), .internal: (500, .sentinel),
        ]
        #expect(Set(expected.keys) == Set(ProxyError.Kind.allCases))
        for kind in ProxyError.Kind.allCases {
            let error = ProxyError(kind)
            #expect(ProxyError.status(for: kind) == expected[kind]?.0, "\(kind)")
            #expect(error.status == expected[kind]?.0, "\(kind)")
            #expect(error.source == expected[kind]?.1, "\(kind)")
        }
    }

    /// Only failures where the request cannot have had an effect, or may be safely replayed under
    /// the route's rules, reach the retry rules; and each maps to the failure the rules know.
    @Test func retryableKindsMapToTheRetryRulesFailures() {
        let retryable: [ProxyError.Kind: UpstreamFailure] = [
            .connectFailed: .connectRefused, .connectionLimit: .connectRefused, .connectTimeout: .connectTimeout,
            .tlsHandshakeFailed: .connectRefused, .closedBeforeResponse: .reusedConnectionClosed, .responseTimeout: .readTimeout,
        ]
        for kind in ProxyError.Kind.allCases {
            let error = ProxyError(kind)
            #expect(error.retryFailure == retryable[kind], "\(kind)")
            #expect(error.isRetryable == (retryable[kind] != nil), "\(kind)")
        }
    }

    /// Passive health hears only of what the target did wrong.
    @Test func healthLearnsOnlyTargetFaults() {
        let health: [ProxyError.Kind: UpstreamHealth.FailureKind] = [
            .connectFailed: .connectFailed, .connectTimeout: .connectTimeout, .tlsHandshakeFailed: .connectFailed,
            .closedBeforeResponse: .closed,
            .closedMidResponse: .closed, .responseTimeout: .readTimeout, .requestTimeout: .readTimeout,
            .writeTimeout: .readTimeout, .malformedResponseHead: .invalidResponse, .unexpectedUpgrade: .invalidResponse,
        ]
        for kind in ProxyError.Kind.allCases {
            #expect(ProxyError(kind).healthFailure == health[kind], "\(kind)")
            if ProxyError(kind).source == .client { #expect(ProxyError(kind).healthFailure == nil) }
        }
        #expect(!ProxyError(.clientClosed).canAnswerClient)
        #expect(!ProxyError(.clientStalled).canAnswerClient)
        #expect(ProxyError(.connectFailed).canAnswerClient)
    }

    static func text(_ kind: ProxyError.Kind, deadline: Duration? = nil, cause: String? = nil) -> String {
        ProxyError(kind, upstream: "app", target: "10.0.0.7:8080", route: "api", deadline: deadline, cause: cause).description
    }

    @Test func descriptionsSayWhatFailedWhereAndAfterHowLong() {
        #expect(Self.text(.connectTimeout, deadline: .seconds(2)) == "connect to 10.0.0.7:8080 timed out after 2s, route \"api\"")
        #expect(Self.text(.connectFailed, cause: "refused") == "connect to 10.0.0.7:8080 failed (refused), route \"api\"")
        #expect(Self.text(.tlsHandshakeFailed, cause: "certificate verify failed: hostname mismatch")
            == "TLS handshake with 10.0.0.7:8080 failed: certificate verify failed: hostname mismatch, route \"api\"")
        #expect(Self.text(.closedBeforeResponse, cause: "TLS client_cert_required: tlsv13 alert certificate required")
            == "10.0.0.7:8080 closed the connection before responding (TLS client_cert_required: tlsv13 alert certificate required), route \"api\"")
        #expect(Self.text(.connectionLimit) == "connection limit of 10.0.0.7:8080 reached, route \"api\"")
        #expect(Self.text(.responseTimeout, deadline: .milliseconds(1500)) == "10.0.0.7:8080 sent nothing for 1500ms, route \"api\"")
        #expect(Self.text(.writeTimeout, deadline: .seconds(30)) == "10.0.0.7:8080 accepted no request bytes for 30s, route \"api\"")
        #expect(
            Self.text(.requestTimeout, deadline: .seconds(60))
                == "10.0.0.7:8080 did not complete the response within the request timeout of 60s, route \"api\"")
        #expect(Self.text(.closedBeforeResponse) == "10.0.0.7:8080 closed the connection before responding, route \"api\"")
        #expect(Self.text(.closedMidResponse) == "10.0.0.7:8080 closed the connection in the middle of the response, route \"api\"")
        #expect(Self.text(.malformedResponseHead) == "10.0.0.7:8080 sent an invalid response head, route \"api\"")
        #expect(Self.text(.malformedResponseBody) == "10.0.0.7:8080 sent an invalid response body, route \"api\"")
        #expect(Self.text(.unexpectedUpgrade).hasPrefix("10.0.0.7:8080 answered 101 without switching to the WebSocket"))
        #expect(Self.text(.noHealthyTarget) == "upstream \"app\" has no healthy target, route \"api\"")
        #expect(Self.text(.noRoute) == "no route matches the request, route \"api\"")
        #expect(Self.text(.unsafePath) == "the path has a dot segment, route \"api\"")
        #expect(Self.text(.upgradeRefused).hasPrefix("upgrade refused"))
        #expect(Self.text(.clientHeadTooSlow) == "client did not send the request head in time, route \"api\"")
        #expect(Self.text(.clientBodyTooLarge) == "client sent a request body over the limit, route \"api\"")
        #expect(Self.text(.clientBodyMalformed) == "client sent a malformed request body, route \"api\"")
        #expect(Self.text(.clientBodyTooSlow) == "client sent the request body too slowly, route \"api\"")
        #expect(Self.text(.clientStalled, deadline: .seconds(60)) == "client stopped reading the response for 60s, route \"api\"")
        #expect(Self.text(.clientClosed) == "client closed the connection, route \"api\"")
        #expect(Self.text(.internal, cause: "no such upstream") == "internal error: no such upstream, route \"api\"")
        // Without a target or route, the upstream names the place; without a deadline, no span.
        #expect(ProxyError(.responseTimeout, upstream: "app").description == "upstream \"app\" sent nothing in time")
        #expect(ProxyError(.connectTimeout).description == "connect to the upstream timed out")
    }

    @Test func durationsReadAsSecondsOrMilliseconds() {
        #expect(ProxyError.format(.seconds(2)) == "2s")
        #expect(ProxyError.format(.milliseconds(250)) == "250ms")
        #expect(ProxyError.format(.milliseconds(2500)) == "2500ms")
    }

    /// A request moves the active-requests gauge once each way, however many paths try to end it.
    @Test func aRequestIsFinishedExactlyOnce() {
        var tally = RequestTally()
        let steps = [
            tally.finish(),  // nothing in flight: ending moves nothing
            tally.begin(),
            tally.begin(),  // already in flight
            tally.finish(),
            tally.finish(),  // a second end (the client gone after the answer) moves nothing
            tally.begin(),  // the next request on the connection
        ]
        #expect(steps == [false, true, false, true, false, true])
        #expect(tally.inFlight)
        let last = tally.finish()
        #expect(last && !tally.inFlight)
    }

    /// The gauge through the metrics as the handler drives them: begun once, ended once by
    /// whichever path comes first.
    @Test func theGaugeReturnsToZeroWhenTwoPathsEndOneRequest() {
        let metrics = MetricsRegistry()
        var tally = RequestTally()
        if tally.begin() { metrics.requestStarted() }
        #expect(metrics.activeRequests == 1)
        let first = tally.finish()
        metrics.recordRequest(route: "r", method: "GET", status: 200, durationSeconds: 0, finished: first, target: nil)
        if tally.finish() { metrics.requestFinished() }
        #expect(metrics.activeRequests == 0)
    }
}
