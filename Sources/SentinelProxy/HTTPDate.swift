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
        var days = unixSeconds / 86_400
        var secs = unixSeconds % 86_400
        if secs < 0 {
            secs += 86_400
            days -= 1
        }
        // 1970-01-01 was a Thursday.
        let weekday = Int((days % 7 + 7 + 4) % 7)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(names[weekday]), \(two(day)) \(months[Int(month) - 1]) \(year) \(two(secs / 3600)):\(two(secs % 3600 / 60)):\(two(secs % 60)) GMT"
    }
}
