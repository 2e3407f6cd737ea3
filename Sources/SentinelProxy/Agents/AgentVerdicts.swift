import SentinelAgentProtocol

/// How the answers of one step's agents become one verdict (pure; `AgentVerdictTests`).
///
/// Walked in filter order after every call ended: the first block or redirect decides (a later
/// agent's block wins over an earlier agent's failure); otherwise the first failure of an agent
/// whose failure mode is closed answers 504 "Gateway timeout" (timeout) or 503 "Service
/// unavailable" (anything else), in text/plain as the original; otherwise the allows (and
/// challenges, treated as allow) are merged: request and response header ops in order.
enum AgentVerdicts {
    enum Result: Equatable {
        /// No call was made (the agent is not subscribed to the event).
        case skipped
        case response(AgentResponse)
        case failure(AgentCallFailure)
    }

    struct Member: Equatable {
        var filterID: String
        var agentID: String
        var failureMode: AgentSettings.FailureMode
        /// `filter`, `route` or `agent`: which setting chose the failure mode.
        var origin = "agent"
    }

    static func merge(_ members: [Member], _ results: [Result], routeID: String) -> FilterVerdict {
        var failed: LocalAnswer?
        var requestOps: [HeaderOp] = []
        var responseOps: [HeaderOp] = []
        for (member, result) in zip(members, results) {
            switch result {
            case .skipped:
                continue
            case .failure(let f):
                if member.failureMode == .closed, failed == nil {
                    failed = failureAnswer(f, member: member, routeID: routeID)
                }
            case .response(let r):
                switch r.decision {
                case .allow, .challenge:
                    requestOps += r.requestHeaders
                    responseOps += r.responseHeaders
                case .block(let status, let body, let headers):
                    return .answer(block(status: status, body: body, headers: headers, responseOps: r.responseHeaders, member: member, routeID: routeID))
                case .redirect(let url, let status):
                    return .answer(redirect(url: url, status: status, member: member, routeID: routeID))
                }
            }
        }
        if let failed { return .answer(failed) }
        return .proceed(requestEdits: edits(requestOps), responseEdits: edits(responseOps))
    }

    static func failureAnswer(_ f: AgentCallFailure, member: Member, routeID: String) -> LocalAnswer {
        let timeout = f == .timeout
        let error = ProxyError(timeout ? .filterTimedOut : .filterFailed, route: routeID,
                               cause: "agent \"\(member.agentID)\" (filter \"\(member.filterID)\"): \(f); failure-mode closed (set by the \(member.origin))")
        return LocalAnswer(status: timeout ? 504 : 503, content: .text(timeout ? "Gateway timeout" : "Service unavailable"),
                           keepAlive: true, error: error)
    }

    static func block(status: UInt16, body: String?, headers: [String: String]?, responseOps: [HeaderOp], member: Member, routeID: String) -> LocalAnswer {
        let code = (100...599).contains(Int(status)) && !(100...199).contains(Int(status)) ? Int(status) : 403
        var fields: [LocalAnswer.Field] = []
        for (name, value) in (headers ?? [:]).sorted(by: { $0.key < $1.key }) where acceptable(name, value) {
            fields.append(LocalAnswer.Field(name: name, value: value))
        }
        for op in responseOps {
            switch op {
            case .set(let n, let v), .add(let n, let v):
                if acceptable(n, v) { fields.append(LocalAnswer.Field(name: n, value: v)) }
            case .remove: break
            }
        }
        let text = body ?? "Blocked by agent"
        // The agent's own answer, not a failure of Sentinel's: no error is recorded for it.
        return LocalAnswer(status: code, content: .text(text), fields: fields, keepAlive: true)
    }

    static func redirect(url: String, status: UInt16, member: Member, routeID: String) -> LocalAnswer {
        let code = [301, 302, 303, 307, 308].contains(Int(status)) ? Int(status) : 302
        guard acceptable("Location", url), !url.isEmpty else {
            return failureAnswer(.invalidResponse, member: member, routeID: routeID)
        }
        return LocalAnswer(status: code, content: .empty, fields: [LocalAnswer.Field(name: "Location", value: url)], keepAlive: true)
    }

    /// Header ops as edits (set → set, add → add, remove → remove), invalid names or values dropped.
    static func edits(_ ops: [HeaderOp]) -> HeaderEdits? {
        guard !ops.isEmpty else { return nil }
        var set: [(String, String)] = [], add: [(String, String)] = [], remove: [String] = []
        for op in ops {
            switch op {
            case .set(let n, let v): if acceptable(n, v), !framing(n) { set.append((n, v)) }
            case .add(let n, let v): if acceptable(n, v), !framing(n) { add.append((n, v)) }
            case .remove(let n): if acceptable(n, ""), !framing(n) { remove.append(n) }
            }
        }
        let e = HeaderEdits(rename: [], set: set, add: add, remove: remove)
        return e.isEmpty ? nil : e
    }

    /// A field name that is a token and a value without CR, LF or NUL.
    static func acceptable(_ name: String, _ value: String) -> Bool {
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { return false }
        return !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    /// Fields that frame the message: an agent may not set them.
    static func framing(_ name: String) -> Bool {
        ["content-length", "transfer-encoding", "connection", "host", "upgrade", "te", "trailer", "keep-alive"].contains(name.lowercased())
    }

    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }
}
