import SentinelFormat

/// The builtin handlers and the single place that turns an error status into a response.
///
/// It exists so every builtin and error body is produced by pure functions of
/// (request, context) → response, with the common headers (§5.13, §5.17) added in one place.
public enum BuiltinHandlers {
    /// Per-request facts a handler may need, gathered by the caller.
    public struct Context: Sendable {
        public var traceID: String
        public var version: String
        public var instanceID: String
        public var configJSON: String
        public var unixSeconds: Double
        public var uptimeSeconds: Double
        /// Called only by the metrics handler.
        public var metricsText: @Sendable () -> String
        /// Called only by the upstreams handler: the health of every configured upstream target.
        public var upstreams: @Sendable () -> [UpstreamHealth.UpstreamStatus]

        public init(
            traceID: String, version: String, instanceID: String = "", configJSON: String = "{}",
            unixSeconds: Double, uptimeSeconds: Double = 0, metricsText: @escaping @Sendable () -> String = { "" },
            upstreams: @escaping @Sendable () -> [UpstreamHealth.UpstreamStatus] = { [] }
        ) {
            self.upstreams = upstreams
            self.traceID = traceID
            self.version = version
            self.instanceID = instanceID
            self.configJSON = configJSON
            self.unixSeconds = unixSeconds
            self.uptimeSeconds = uptimeSeconds
            self.metricsText = metricsText
        }
    }

    public static let allowedMethods = "GET, HEAD"

    /// Runs `kind` for `request`. Methods other than GET/HEAD get 405 with `Allow`.
    public static func respond(_ kind: BuiltinKind, to request: BuiltinRequest, context: Context) -> BuiltinResponse {
        let method = request.method.uppercased()
        guard method == "GET" || method == "HEAD" else {
            var response = error(405, traceID: context.traceID)
            response.headers.append(("Allow", allowedMethods))
            return response
        }
        switch kind {
        case .status:
            let uptime = max(0, context.uptimeSeconds)
            let body =
                "{\"status\":\"ok\",\"version\":\(JSONString.quoted(context.version)),\"uptime\":\(JSONString.quoted(humanDuration(uptime))),"
                + "\"uptime_secs\":\(UInt64(uptime)),\"instance_id\":\(JSONString.quoted(context.instanceID)),"
                + "\"timestamp\":\(JSONString.quoted(RFC3339.format(unixSeconds: context.unixSeconds)))}"
            return json(200, body, traceID: context.traceID)
        case .health:
            let body =
                "{\"status\":\"healthy\",\"timestamp\":\(JSONString.quoted(RFC3339.format(unixSeconds: context.unixSeconds)))}"
            return json(200, body, traceID: context.traceID)
        case .notFound:
            return error(404, traceID: context.traceID)
        case .config:
            return json(200, context.configJSON, traceID: context.traceID)
        case .metrics:
            return BuiltinResponse(
                status: 200, headers: common(contentType: "text/plain; version=0.0.4; charset=utf-8", context.traceID),
                body: Array(context.metricsText().utf8))
        case .upstreams:
            let list = context.upstreams()
            guard !list.isEmpty else { return error(503, traceID: context.traceID) }
            return json(200, upstreamsJSON(list, unixSeconds: context.unixSeconds), traceID: context.traceID)
        case .welcome:
            return BuiltinResponse(
                status: 200, headers: common(contentType: "text/html; charset=utf-8", context.traceID),
                body: Array(welcomePage(version: context.version).utf8))
        }
    }

    /// `{"upstreams":[{"id","targets":[{"address","weight","health","circuit_breaker","ejected","in_flight","probe_error"}]}],"timestamp"}`;
    /// `in_flight` is null for upstreams without health checks, breakers or passive health;
    /// `probe_error` is why the latest active probe failed, null when it succeeded or none ran.
    static func upstreamsJSON(_ list: [UpstreamHealth.UpstreamStatus], unixSeconds: Double) -> String {
        let upstreams = list.map { u in
            let targets = u.targets.map { t in
                "{\"address\":\(JSONString.quoted(t.address)),\"weight\":\(t.weight),\"health\":\(JSONString.quoted(t.health.rawValue)),"
                    + "\"circuit_breaker\":\(JSONString.quoted(t.breaker.rawValue)),\"ejected\":\(t.ejected),"
                    + "\"in_flight\":\(t.inFlight.map(String.init) ?? "null"),"
                    + "\"probe_error\":\(t.probeError.map(JSONString.quoted) ?? "null")}"
            }
            return "{\"id\":\(JSONString.quoted(u.id)),\"targets\":[\(targets.joined(separator: ","))]}"
        }
        return "{\"upstreams\":[\(upstreams.joined(separator: ","))],\"timestamp\":\(JSONString.quoted(RFC3339.format(unixSeconds: unixSeconds)))}"
    }

    /// `{"error":"<code> <reason>","trace_id":"…"}` with the JSON headers (§5.17).
    public static func error(_ status: Int, traceID: String) -> BuiltinResponse {
        json(
            status, "{\"error\":\(JSONString.quoted("\(status) \(HTTPReason.phrase(status))")),\"trace_id\":\(JSONString.quoted(traceID))}",
            traceID: traceID)
    }

    /// A response without content (Sentinel answering as the final recipient, e.g. OPTIONS
    /// with `Max-Forwards: 0`).
    static func empty(_ status: Int, traceID: String) -> BuiltinResponse {
        BuiltinResponse(
            status: status, headers: [("Cache-Control", "no-cache, no-store, must-revalidate"), ("X-Request-Id", traceID)])
    }

    static func json(_ status: Int, _ body: String, traceID: String) -> BuiltinResponse {
        BuiltinResponse(status: status, headers: common(contentType: "application/json", traceID), body: Array(body.utf8))
    }

    static func common(contentType: String, _ traceID: String) -> [(name: String, value: String)] {
        [
            ("Content-Type", contentType),
            ("Cache-Control", "no-cache, no-store, must-revalidate"),
            ("X-Request-Id", traceID),
        ]
    }

    /// "3d 4h 5m 6s" style uptime, as the original prints it.
    static func humanDuration(_ seconds: Double) -> String {
        let s = Int(seconds)
        let d = s / 86_400, h = s % 86_400 / 3600, m = s % 3600 / 60, r = s % 60
        if d > 0 { return "\(d)d \(h)h \(m)m \(r)s" }
        if h > 0 { return "\(h)h \(m)m \(r)s" }
        if m > 0 { return "\(m)m \(r)s" }
        return "\(r)s"
    }

    /// `text` safe inside HTML element content and attribute values.
    static func htmlEscaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func welcomePage(version: String) -> String {
        // Escaped, not filtered: filtering dropped the spaces and parentheses of
        // "0.1.0 (release 26.11_1)" and printed "0.1.0release26.11_1".
        let safeVersion = htmlEscaped(version)
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Sentinel</title>
            <style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;color:#222}code{background:#eee;padding:0 .3em}</style>
            </head><body>
            <h1>Sentinel is running</h1>
            <p>Version <code>\(safeVersion)</code></p>
            <ul><li><a href="/health">/health</a></li><li><a href="/status">/status</a></li><li><a href="/metrics">/metrics</a></li></ul>
            </body></html>

            """
    }
}
