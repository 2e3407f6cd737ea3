public import SentinelAgentProtocol

/// Decisions and header edits, written the way agents think of them:
///
/// ```swift
/// AgentResponse.allow()
///     .settingRequestHeader("x-user-id", "42")
///     .removingRequestHeader("cookie")
///     .tagged("authenticated")
/// AgentResponse.block(status: 401, body: "Unauthorized", headers: ["www-authenticate": "Bearer"])
/// ```
extension AgentResponse {
    /// Allow, with no edits.
    public static func allow() -> AgentResponse { AgentResponse(decision: .allow) }

    /// Refuse the request with `status`, an optional body and response headers.
    public static func block(status: UInt16, body: String? = nil, headers: [String: String]? = nil) -> AgentResponse {
        AgentResponse(decision: .block(status: status, body: body, headers: headers))
    }

    /// Answer with a redirect to `url` (`status` 301, 302, 303, 307 or 308).
    public static func redirect(to url: String, status: UInt16 = 302) -> AgentResponse {
        AgentResponse(decision: .redirect(url: url, status: status))
    }

    /// Ask the client to pass a challenge (`captcha`, `js_challenge`, …).
    public static func challenge(_ type: String, params: [String: String] = [:]) -> AgentResponse {
        AgentResponse(decision: .challenge(challengeType: type, params: params))
    }

    public func settingRequestHeader(_ name: String, _ value: String) -> AgentResponse {
        var r = self; r.requestHeaders.append(.set(name: name, value: value)); return r
    }
    public func addingRequestHeader(_ name: String, _ value: String) -> AgentResponse {
        var r = self; r.requestHeaders.append(.add(name: name, value: value)); return r
    }
    public func removingRequestHeader(_ name: String) -> AgentResponse {
        var r = self; r.requestHeaders.append(.remove(name: name)); return r
    }
    public func settingResponseHeader(_ name: String, _ value: String) -> AgentResponse {
        var r = self; r.responseHeaders.append(.set(name: name, value: value)); return r
    }
    public func addingResponseHeader(_ name: String, _ value: String) -> AgentResponse {
        var r = self; r.responseHeaders.append(.add(name: name, value: value)); return r
    }
    public func removingResponseHeader(_ name: String) -> AgentResponse {
        var r = self; r.responseHeaders.append(.remove(name: name)); return r
    }

    /// Adds audit tags (each once).
    public func tagged(_ tags: String...) -> AgentResponse {
        var r = self
        for t in tags where !r.audit.tags.contains(t) { r.audit.tags.append(t) }
        return r
    }

    /// Adds rule ids to the audit data.
    public func withRuleIDs(_ ids: [String]) -> AgentResponse {
        var r = self; r.audit.ruleIDs += ids; return r
    }

    /// Sets one `audit.custom` field (`correlation_id` is the server's).
    public func withAudit(_ key: String, _ value: AgentJSON) -> AgentResponse {
        var r = self; r.audit.custom[key] = value; return r
    }

    /// Replaces the request body chunk with `bytes`.
    public func replacingRequestBody(with bytes: [UInt8], chunkIndex: UInt32 = 0) -> AgentResponse {
        var r = self; r.requestBodyMutation = .replace(with: bytes, chunkIndex: chunkIndex); return r
    }

    /// Replaces the response body chunk with `bytes`.
    public func replacingResponseBody(with bytes: [UInt8], chunkIndex: UInt32 = 0) -> AgentResponse {
        var r = self; r.responseBodyMutation = .replace(with: bytes, chunkIndex: chunkIndex); return r
    }
}
