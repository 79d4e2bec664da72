// `strftime_now(fmt)`: Python's `datetime.now().strftime(fmt)` in the C locale (glibc
// directives, a naive datetime: `%z` and `%Z` are empty). The clock is injectable.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A local date and time, as `datetime.now()` gives it.
public struct CivilDateTime: Sendable, Equatable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    public var microsecond: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, microsecond: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.microsecond = microsecond
    }

    /// The current local time.
    public static func now() -> CivilDateTime {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var parts = tm()
        localtime_r(&t, &parts)
        return CivilDateTime(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                             hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec),
                             microsecond: Int(tv.tv_usec))
    }

    /// Days since 1970-01-01 (proleptic Gregorian).
    var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// 0 = Sunday ... 6 = Saturday (C's tm_wday).
    var cWeekday: Int { ((daysSinceEpoch % 7) + 7 + 4) % 7 }

    /// 1-based day of the year.
    var dayOfYear: Int {
        CivilDateTime(year: year, month: month, day: day).daysSinceEpoch - CivilDateTime(year: year, month: 1, day: 1).daysSinceEpoch + 1
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }
}

enum Strftime {
    static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                         "October", "November", "December"]

    /// ISO 8601 (year, week).
    static func isoWeek(_ d: CivilDateTime) -> (Int, Int) {
        let wday = (d.cWeekday + 6) % 7  // Monday = 0
        let yday = d.dayOfYear - 1
        var year = d.year
        // Thursday of this week decides the year.
        var week = (yday - wday + 10) / 7
        if week < 1 {
            year -= 1
            let prevDays = CivilDateTime.isLeap(year) ? 366 : 365
            week = (yday + prevDays - wday + 10) / 7
        } else {
            let days = CivilDateTime.isLeap(year) ? 366 : 365
            if yday - wday + 3 >= days {
                week = 1
                year += 1
            }
        }
        return (year, week)
    }

    static func format(_ fmt: String, _ d: CivilDateTime) -> String {
        var out = ""
        let f = Array(fmt.unicodeScalars)
        var i = 0
        func num(_ v: Int, _ width: Int, _ pad: Character, _ flag: Character?) -> String {
            var s = String(abs(v))
            let padChar: Character? = flag == "-" ? nil : (flag == "_" ? " " : (flag == "0" ? "0" : pad))
            if let padChar, s.count < width { s = String(repeating: padChar, count: width - s.count) + s }
            return (v < 0 ? "-" : "") + s
        }
        while i < f.count {
            let c = f[i]
            guard c == "%", i + 1 < f.count else {
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            var j = i + 1
            var flag: Character? = nil
            if "-_0^#".unicodeScalars.contains(f[j]), j + 1 < f.count {
                flag = Character(f[j])
                j += 1
            }
            let spec = f[j]
            let hour12 = d.hour % 12 == 0 ? 12 : d.hour % 12
            var text: String?
            switch spec {
            case "a": text = String(weekdays[d.cWeekday].prefix(3))
            case "A": text = weekdays[d.cWeekday]
            case "b", "h": text = String(months[d.month - 1].prefix(3))
            case "B": text = months[d.month - 1]
            case "c": text = format("%a %b %e %H:%M:%S %Y", d)
            case "C": text = num(d.year / 100, 2, "0", flag)
            case "d": text = num(d.day, 2, "0", flag)
            case "D": text = format("%m/%d/%y", d)
            case "e": text = num(d.day, 2, " ", flag)
            case "f": text = num(d.microsecond, 6, "0", nil)
            case "F": text = format("%Y-%m-%d", d)
            case "G": text = num(isoWeek(d).0, 1, "0", flag)
            case "g": text = num(isoWeek(d).0 % 100, 2, "0", flag)
            case "H": text = num(d.hour, 2, "0", flag)
            case "I": text = num(hour12, 2, "0", flag)
            case "j": text = num(d.dayOfYear, 3, "0", flag)
            case "k": text = num(d.hour, 2, " ", flag)
            case "l": text = num(hour12, 2, " ", flag)
            case "m": text = num(d.month, 2, "0", flag)
            case "M": text = num(d.minute, 2, "0", flag)
            case "n": text = "\n"
            case "p": text = d.hour < 12 ? "AM" : "PM"
            case "P": text = d.hour < 12 ? "am" : "pm"
            case "r": text = format("%I:%M:%S %p", d)
            case "R": text = format("%H:%M", d)
            case "S": text = num(d.second, 2, "0", flag)
            case "t": text = "\t"
            case "T", "X": text = format("%H:%M:%S", d)
            case "u": text = String(d.cWeekday == 0 ? 7 : d.cWeekday)
            case "U": text = num((d.dayOfYear - 1 + 7 - d.cWeekday) / 7, 2, "0", flag)
            case "V": text = num(isoWeek(d).1, 2, "0", flag)
            case "w": text = String(d.cWeekday)
            case "W": text = num((d.dayOfYear - 1 + 7 - (d.cWeekday + 6) % 7) / 7, 2, "0", flag)
            case "x": text = format("%m/%d/%y", d)
            case "y": text = num(d.year % 100, 2, "0", flag)
            case "Y": text = String(d.year)
            case "z", "Z": text = ""
            case "%": text = "%"
            default: text = nil
            }
            if var t = text {
                if flag == "^" { t = t.uppercased() }
                if flag == "#" { t = t == t.uppercased() ? t.lowercased() : t.uppercased() }
                out += t
            } else {
                out.unicodeScalars.append(contentsOf: f[i...j])
            }
            i = j + 1
        }
        return out
    }
}
