/// An answer Sentinel gives itself instead of proxying, as an admission phase decides it: a
/// status, its content, extra fields, whether the connection stays open, and (for a refusal)
/// the error the access log and the metrics name.
///
/// A value without bytes: the driver serialises it (with the request's trace id) only once the
/// request body is read, so a phase that refuses costs no allocation until the answer is due.
struct LocalAnswer: Equatable, Sendable {
    enum Content: Equatable, Sendable {
        /// The JSON error body (`{"error":"404 Not Found","trace_id":…}`).
        case error
        /// No content (OPTIONS answered as the final recipient).
        case empty
        /// A JSON document of the answering phase's own (a filter's or an agent's verdict).
        case json(String)
        /// Plain text (an agent's block body; "Service unavailable" / "Gateway timeout" for an
        /// agent that failed closed, as the original answers).
        case text(String)
    }

    /// A field of the answer (names and values validated by whoever sets them: no CR, LF or NUL).
    struct Field: Equatable, Sendable {
        var name: String
        var value: String
    }

    var status: Int
    var content: Content
    var fields: [Field] = []
    var keepAlive: Bool
    /// Why the request was refused; nil: answered, not refused.
    var error: ProxyError?

    /// Refuses the request with `kind`'s status and the JSON error body.
    static func refusal(_ kind: ProxyError.Kind, route: String?, keepAlive: Bool = false, cause: String? = nil) -> LocalAnswer {
        let error = ProxyError(kind, route: route, cause: cause)
        return LocalAnswer(status: error.status, content: .error, keepAlive: keepAlive, error: error)
    }

    /// The answer as the response Sentinel writes.
    func response(traceID: String) -> BuiltinResponse {
        var response: BuiltinResponse
        switch content {
        case .error: response = BuiltinHandlers.error(status, traceID: traceID)
        case .empty: response = BuiltinHandlers.empty(status, traceID: traceID)
        case .json(let body): response = BuiltinHandlers.json(status, body, traceID: traceID)
        case .text(let body):
            response = BuiltinResponse(status: status, headers: BuiltinHandlers.common(contentType: "text/plain", traceID), body: Array(body.utf8))
        }
        for field in fields { response.headers.append((field.name, field.value)) }
        return response
    }
}
