public import SentinelCompression
import Synchronization

/// What response compression and guarded decompression did, counted with fixed label sets:
///
/// - `sentinel_compression_responses_total{encoding}`: responses sent compressed;
/// - `sentinel_compression_bytes_in_total{encoding}` / `_bytes_out_total{encoding}`: body bytes
///   before and after (a compressed response is counted when it ends);
/// - `sentinel_compression_skipped_total{reason}`: responses on a compressing route sent as they
///   were, by `CompressionDecision.Skip` (plus `no_memory` when zlib could not start);
/// - `sentinel_decompression_total{encoding,result}`: `InflateGuard` verdicts (`ok`,
///   `size_exceeded`, `ratio_exceeded`, `malformed`) of inspected request bodies.
public final class CompressionMetrics: Sendable {
    private struct State {
        var responses = [UInt64](repeating: 0, count: ContentCoding.allCases.count)
        var bytesIn = [UInt64](repeating: 0, count: ContentCoding.allCases.count)
        var bytesOut = [UInt64](repeating: 0, count: ContentCoding.allCases.count)
        var skipped: [String: UInt64] = [:]
        var decompression: [String: UInt64] = [:]
    }

    private let state = Mutex(State())

    init() {}

    func compressed(_ coding: ContentCoding, bytesIn: UInt64, bytesOut: UInt64) {
        let i = Int(coding.rawValue)
        state.withLock { s in
            s.responses[i] += 1
            s.bytesIn[i] += bytesIn
            s.bytesOut[i] += bytesOut
        }
    }

    func skipped(_ reason: String) {
        state.withLock { $0.skipped[reason, default: 0] += 1 }
    }

    /// One `InflateGuard` verdict on a body of `coding` (for whatever inspects request bodies).
    public func decompressed(_ coding: ContentCoding, _ verdict: InflateGuard.Verdict) {
        let key = "\(coding.token) \(verdict.result)"
        state.withLock { $0.decompression[key, default: 0] += 1 }
    }

    /// (responses, bytes in, bytes out) of `coding` (tests).
    public func totals(_ coding: ContentCoding) -> (responses: UInt64, bytesIn: UInt64, bytesOut: UInt64) {
        let i = Int(coding.rawValue)
        return state.withLock { ($0.responses[i], $0.bytesIn[i], $0.bytesOut[i]) }
    }

    public func skips(_ reason: String) -> UInt64 { state.withLock { $0.skipped[reason] ?? 0 } }

    public func decompressions(_ coding: ContentCoding, result: String) -> UInt64 {
        state.withLock { $0.decompression["\(coding.token) \(result)"] ?? 0 }
    }

    func render() -> String {
        let s = state.withLock { $0 }
        var out = ""
        if s.responses.contains(where: { $0 > 0 }) {
            for (name, help, values) in [
                ("sentinel_compression_responses_total", "Responses sent compressed, by content coding.", s.responses),
                ("sentinel_compression_bytes_in_total", "Response body bytes before compression.", s.bytesIn),
                ("sentinel_compression_bytes_out_total", "Response body bytes after compression.", s.bytesOut),
            ] {
                out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
                for c in ContentCoding.allCases { out += "\(name){encoding=\"\(c.token)\"} \(values[Int(c.rawValue)])\n" }
            }
        }
        if !s.skipped.isEmpty {
            out += "# HELP sentinel_compression_skipped_total Responses on a compressing route sent uncompressed, by reason.\n"
            out += "# TYPE sentinel_compression_skipped_total counter\n"
            for (reason, n) in s.skipped.sorted(by: { $0.key < $1.key }) {
                out += "sentinel_compression_skipped_total{reason=\"\(reason)\"} \(n)\n"
            }
        }
        if !s.decompression.isEmpty {
            out += "# HELP sentinel_decompression_total Inspected request bodies inflated under the ratio and size caps, by result.\n"
            out += "# TYPE sentinel_decompression_total counter\n"
            for (key, n) in s.decompression.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: " ")
                out += "sentinel_decompression_total{encoding=\"\(parts[0])\",result=\"\(parts[1])\"} \(n)\n"
            }
        }
        return out
    }
}
