/// A UTC calendar date and time of day, from seconds since the Unix epoch (proleptic Gregorian,
/// the civil-from-days algorithm of H. Hinnant). No Foundation, no time zone database: every
/// timestamp Sentinel prints (HTTP `Date`, RFC 3339 log and status times, certificate validity)
/// is built from this one conversion.
public struct CivilTime: Sendable, Hashable {
    public var year: Int64
    /// 1...12.
    public var month: Int64
    /// 1...31.
    public var day: Int64
    public var hour: Int64
    public var minute: Int64
    public var second: Int64
    /// 0 = Sunday ... 6 = Saturday.
    public var weekday: Int

    public init(unixSeconds: Int64) {
        var days = unixSeconds / 86_400
        var secs = unixSeconds % 86_400
        if secs < 0 {
            secs += 86_400
            days -= 1
        }
        // 1970-01-01 was a Thursday.
        weekday = Int((days % 7 + 7 + 4) % 7)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        hour = secs / 3600
        minute = secs % 3600 / 60
        second = secs % 60
    }
}
