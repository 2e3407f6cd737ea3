import SentinelFormat
import Testing

@Suite struct CivilTimeTests {
    @Test func knownInstants() {
        let epoch = CivilTime(unixSeconds: 0)
        #expect([epoch.year, epoch.month, epoch.day, epoch.hour, epoch.minute, epoch.second] == [1970, 1, 1, 0, 0, 0])
        #expect(epoch.weekday == 4)
        let rfc = CivilTime(unixSeconds: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect([rfc.year, rfc.month, rfc.day, rfc.hour, rfc.minute, rfc.second] == [1994, 11, 6, 8, 49, 37])
        #expect(rfc.weekday == 0)
        let leap = CivilTime(unixSeconds: 951_782_400)
        #expect([leap.year, leap.month, leap.day] == [2000, 2, 29])
        #expect(leap.weekday == 2)
        let last = CivilTime(unixSeconds: 253_402_300_799)
        #expect([last.year, last.month, last.day, last.hour, last.minute, last.second] == [9999, 12, 31, 23, 59, 59])
        #expect(last.weekday == 5)
    }

    @Test func beforeTheEpoch() {
        let t = CivilTime(unixSeconds: -1)
        #expect([t.year, t.month, t.day, t.hour, t.minute, t.second] == [1969, 12, 31, 23, 59, 59])
        #expect(t.weekday == 3)
    }

    /// Every day from 1900 through 2400 against a day-by-day calendar walk (leap rules of 1900, 2000, 2400).
    @Test func everyDayMatchesACalendarWalk() {
        func daysIn(_ month: Int64, _ year: Int64) -> Int64 {
            switch month {
            case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
            case 4, 6, 9, 11: 30
            default: 31
            }
        }
        var (year, month, day): (Int64, Int64, Int64) = (1900, 1, 1)
        var weekday = 1  // 1900-01-01 was a Monday.
        var mismatches = 0
        for days in Int64(-25_567)...Int64(157_419) {
            let t = CivilTime(unixSeconds: days * 86_400 + 43_200)
            if t.year != year || t.month != month || t.day != day || t.weekday != weekday || t.hour != 12 { mismatches += 1 }
            weekday = (weekday + 1) % 7
            day += 1
            if day > daysIn(month, year) {
                day = 1
                month += 1
                if month > 12 { month = 1; year += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(year == 2401 && month == 1 && day == 1)
    }
}

@Suite struct CivilTimeFormatTests {
    @Test func rfc3339() {
        #expect(CivilTime(unixSeconds: 0).rfc3339(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(CivilTime(unixSeconds: 951_782_400).rfc3339(milliseconds: 999) == "2000-02-29T00:00:00.999Z")
        #expect(CivilTime(unixSeconds: 1_796_215_845).rfc3339(milliseconds: 7) == "2026-12-02T12:50:45.007Z")
    }

    @Test func names() {
        let t = CivilTime(unixSeconds: 784_111_777)
        #expect(CivilTime.weekdayNames[t.weekday] == "Sun")
        #expect(CivilTime.monthNames[Int(t.month) - 1] == "Nov")
        #expect(CivilTime.pad(7, 3) == "007" && CivilTime.pad(12345, 4) == "12345")
    }
}
