import Logging
import SentinelObservability

/// `type "log"`: one structured line per request (`filter_log_request`: method, path, query,
/// host, client, route, trace id) and/or per response head (`filter_log_response`: status,
/// route, trace id), at the configured level. Header values are not logged (they carry
/// credentials); bodies are not captured (`log-body` is refused at load).
public struct LogRule: Sendable, Equatable {
    public var logRequest: Bool
    public var logResponse: Bool
    /// `trace`, `debug`, `info`, `warn` or `error`.
    public var level: String

    public init(logRequest: Bool, logResponse: Bool, level: String) {
        self.logRequest = logRequest
        self.logResponse = logResponse
        self.level = level
    }
}

struct LogFilter: RequestFilter, ResponseFilter {
    let id: String
    let rule: LogRule

    func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
        guard rule.logRequest, let logger = request.logger else { return .next }
        logger.emit(
            rule.level, "filter_log_request",
            [
                "filter": .string(id), "method": .string(request.facts.method), "path": .string(request.facts.path),
                "query": .string(request.facts.query), "host": .string(request.facts.host), "client": .string(request.clientAddress),
                "route": .string(request.routeID), "trace_id": .string(request.traceID),
            ])
        return .next
    }

    func onResponseHead(status: Int, context: ResponseContext, effects: inout FilterEffects) {
        guard rule.logResponse, let logger = context.logger else { return }
        logger.emit(
            rule.level, "filter_log_response",
            [
                "filter": .string(id), "status": .stringConvertible(status), "route": .string(context.routeID ?? "_none"),
                "trace_id": .string(context.traceID),
            ])
    }
}

extension FilterChain.Entry {
    /// A `log` filter's request side (nil when it logs no requests).
    public static func log(id: String, _ rule: LogRule) -> FilterChain.Entry? {
        rule.logRequest ? FilterChain.Entry(id: id, type: "log", filter: LogFilter(id: id, rule: rule)) : nil
    }
}

extension FilterChain.ResponseEntry {
    /// A `log` filter's response side (nil when it logs no responses).
    public static func log(id: String, _ rule: LogRule) -> FilterChain.ResponseEntry? {
        rule.logResponse ? FilterChain.ResponseEntry(id: id, type: "log", filter: LogFilter(id: id, rule: rule)) : nil
    }
}

/// What a response-phase filter knows of the exchange besides the response head.
struct ResponseContext {
    let routeID: String?
    let traceID: String
    let logger: Logger?
}
