import SentinelFormat

/// The `Date` field value (RFC 9110 §5.6.7 IMF-fixdate), formatted at most once per second.
///
/// One per event loop (no lock): every response Sentinel writes itself, and every forwarded
/// response that lacks one (RFC 9110 §6.6.1), carries the current date without formatting it per
/// request.
final class HTTPDateCache {
    private let clock: ServerClock
    private var second: Int64 = .min
    /// `Date: <IMF-fixdate>\r\n`.
    private(set) var fieldLine: [UInt8] = []

    init(clock: ServerClock) { self.clock = clock }

    /// The `Date` field line for the current second.
    func currentFieldLine() -> [UInt8] {
        let now = Int64(clock.wallSeconds().rounded(.down))
        if now != second {
            second = now
            fieldLine = Array("Date: \(Self.format(unixSeconds: now))\r\n".utf8)
        }
        return fieldLine
    }

    /// The field value alone (for tests and the string-built local replies).
    var currentValue: String {
        let line = currentFieldLine()
        return String(decoding: line[6..<(line.count - 2)], as: UTF8.self)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func format(unixSeconds: Int64) -> String {
        let t = CivilTime(unixSeconds: unixSeconds)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(CivilTime.weekdayNames[t.weekday]), \(two(t.day)) \(CivilTime.monthNames[Int(t.month) - 1]) \(t.year) "
            + "\(two(t.hour)):\(two(t.minute)):\(two(t.second)) GMT"
    }
}
