extension CivilTime {
    /// English abbreviations, as HTTP dates and Common Log Format times spell them.
    public static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    /// Indexed by `weekday` (0 = Sunday).
    public static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    /// `2026-12-03T12:50:45.123Z` (RFC 3339 in UTC, with `milliseconds` of the second).
    public func rfc3339(milliseconds: Int) -> String {
        "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))T\(Self.pad(hour, 2)):\(Self.pad(minute, 2)):"
            + "\(Self.pad(second, 2)).\(Self.pad(Int64(milliseconds), 3))Z"
    }

    /// `v` in decimal, left-padded with zeros to `width` digits.
    public static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
