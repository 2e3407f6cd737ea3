import SentinelAgentProtocol
import SentinelFormat

/// The events Sentinel sends, built from the request as the filters see it.
enum AgentEvents {
    /// RequestHeaders (0x10) as JSON: lower-case names with their values in order, `uri` with
    /// the query, the trace id as correlation id at top level and in `metadata`, nulls present.
    static func requestHeaders(_ request: borrowing FilterRequest) -> [UInt8] {
        var headers: [String: [String]] = [:]
        for (name, value) in request.allHeaders() {
            headers[name.lowercased(), default: []].append(value.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F || $0 == 0x09 } ? value : "")
        }
        let metadata = RequestMetadata(
            correlationID: request.traceID, requestID: uuidV4(), clientIP: request.clientAddress,
            routeID: request.routeID, timestamp: rfc3339Now(), traceparent: request.facts.traceparent)
        let event = RequestHeadersEvent(
            correlationID: request.traceID, metadata: metadata, method: request.facts.method,
            uri: request.facts.query.isEmpty ? request.facts.path : request.facts.path + "?" + request.facts.query,
            headers: headers)
        return (try? AgentCodec.encode(event)) ?? []
    }

    /// `2026-07-01T12:00:00.123456789+00:00`, as the original's `to_rfc3339` writes it.
    static func rfc3339Now() -> String {
        let (seconds, nanos) = AgentClock.unixNanos()
        let t = CivilTime(unixSeconds: seconds)
        func pad(_ v: some BinaryInteger, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(t.year, 4))-\(pad(t.month, 2))-\(pad(t.day, 2))T\(pad(t.hour, 2)):\(pad(t.minute, 2)):\(pad(t.second, 2)).\(pad(nanos, 9))+00:00"
    }

    static func uuidV4() -> String {
        var rng = SystemRandomNumberGenerator()
        return TraceID.uuidV4(using: &rng)
    }
}
