import NIOCore

#if canImport(Glibc)
import Glibc
#endif
import SentinelFormat

/// Formats access-log lines. Client-controlled strings (path, user agent, referer, host) are
/// escaped so a request can never forge a log line: JSON escaping in JSON lines, and `\xHH`
/// escapes for quotes, backslashes and control bytes in the text formats (as nginx does).
enum AccessLogFormatter {
    static func json(_ r: AccessRecord, includeTraceID: Bool, into out: inout ByteBuffer) {
        out.writeStaticString("{\"timestamp\":\"")
        out.writeString(rfc3339(r.unixSeconds))
        out.writeStaticString("\"")
        if includeTraceID { field("trace_id", r.traceID, &out) }
        field("method", r.method, &out)
        field("path", r.path, &out)
        if !r.query.isEmpty { field("query", r.query, &out) }
        field("protocol", r.httpVersion, &out)
        number("status", r.status, &out)
        number("body_bytes", r.bodyBytes, &out)
        out.writeStaticString(",\"duration_ms\":")
        out.writeString(milliseconds(r.durationSeconds))
        field("client_ip", r.clientIP, &out)
        if let ua = r.userAgent { field("user_agent", ua, &out) }
        if let ref = r.referer { field("referer", ref, &out) }
        if !r.host.isEmpty { field("host", r.host, &out) }
        if let route = r.routeID { field("route_id", route, &out) }
        if let u = r.upstream {
            field("upstream", u, &out)
            if let a = r.upstreamAddress { field("upstream_addr", a, &out) }
            number("upstream_attempts", r.upstreamAttempts, &out)
            if let reused = r.connectionReused {
                out.writeStaticString(reused ? ",\"connection_reused\":true" : ",\"connection_reused\":false")
            }
        }
        if let tls = r.tls {
            field("tls_version", tls.versionName, &out)
            field("tls_cipher", tls.cipher, &out)
            if let sni = tls.serverName { field("tls_sni", sni, &out) }
            out.writeStaticString(tls.resumed ? ",\"tls_resumed\":true" : ",\"tls_resumed\":false")
            if let cert = tls.peerCertificate {
                out.writeStaticString(",\"tls_client_verify\":\"verified\"")
                field("tls_client_subject", cert.subject, &out)
                if !cert.subjectAltNames.isEmpty {
                    out.writeStaticString(",\"tls_client_san\":[")
                    for (i, san) in cert.subjectAltNames.enumerated() {
                        if i > 0 { out.writeStaticString(",") }
                        out.writeString(JSONString.quoted(san))
                    }
                    out.writeStaticString("]")
                }
                field("tls_client_fingerprint", cert.sha256Fingerprint, &out)
            } else {
                out.writeStaticString(",\"tls_client_verify\":\"none\"")
            }
        }
        if let error = r.error { field("error", error, &out) }
        out.writeStaticString("}\n")
    }

    static func combined(_ r: AccessRecord, includeTraceID: Bool, into out: inout ByteBuffer) {
        common(r, into: &out, newline: false)
        out.writeStaticString(" \"")
        text(r.referer ?? "-", &out)
        out.writeStaticString("\" \"")
        text(r.userAgent ?? "-", &out)
        out.writeStaticString("\"")
        if includeTraceID {
            out.writeStaticString(" ")
            text(r.traceID, &out)
        }
        out.writeStaticString(" ")
        out.writeString(milliseconds(r.durationSeconds))
        out.writeStaticString("ms\n")
    }

    static func common(_ r: AccessRecord, into out: inout ByteBuffer, newline: Bool = true) {
        text(r.clientIP, &out)
        out.writeStaticString(" - - [")
        out.writeString(clfTime(r.unixSeconds))
        out.writeStaticString("] \"")
        text(r.method, &out)
        out.writeStaticString(" ")
        text(r.path, &out)
        if !r.query.isEmpty {
            out.writeStaticString("?")
            text(r.query, &out)
        }
        out.writeStaticString(" ")
        out.writeString(r.httpVersion)
        out.writeStaticString("\" ")
        out.writeString(String(r.status))
        out.writeStaticString(" ")
        out.writeString(String(r.bodyBytes))
        if newline { out.writeStaticString("\n") }
    }

    private static func field(_ name: StaticString, _ value: String, _ out: inout ByteBuffer) {
        out.writeStaticString(",\"")
        out.writeStaticString(name)
        out.writeStaticString("\":")
        out.writeString(JSONString.quoted(value))
    }

    private static func number(_ name: StaticString, _ value: Int, _ out: inout ByteBuffer) {
        out.writeStaticString(",\"")
        out.writeStaticString(name)
        out.writeStaticString("\":")
        out.writeString(String(value))
    }

    /// Text-format escaping: `"`, `\`, control bytes and non-ASCII bytes become `\xHH`.
    private static func text(_ s: String, _ out: inout ByteBuffer) {
        for b in s.utf8 {
            if b < 0x20 || b >= 0x7F || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                let hex = Array("0123456789ABCDEF".utf8)
                out.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]])
            } else {
                out.writeInteger(b)
            }
        }
    }

    static func milliseconds(_ seconds: Double) -> String {
        let micros = Int((seconds * 1_000_000).rounded(.toNearestOrEven))
        let ms = micros / 1000
        let frac = micros % 1000
        let f = String(frac)
        return "\(ms).\(String(repeating: "0", count: 3 - f.count))\(f)"
    }

    /// `2026-11-25T18:00:00.123Z`
    static func rfc3339(_ unixSeconds: Double) -> String {
        let seconds = Int64(unixSeconds)
        let ms = Int((unixSeconds - Double(Int(unixSeconds))) * 1000)
        return CivilTime(unixSeconds: seconds).rfc3339(milliseconds: ms)
    }

    /// `25/Nov/2026:18:00:00 +0000`
    static func clfTime(_ unixSeconds: Double) -> String {
        let t = CivilTime(unixSeconds: Int64(unixSeconds))
        return "\(CivilTime.pad(t.day, 2))/\(CivilTime.monthNames[Int(t.month) - 1])/\(CivilTime.pad(t.year, 4)):"
            + "\(CivilTime.pad(t.hour, 2)):\(CivilTime.pad(t.minute, 2)):\(CivilTime.pad(t.second, 2)) +0000"
    }
}
