import ByteJSON
import Foundation

// Bounded-memory building blocks of the stats stage. Each is folded in input order on one thread
// (workers only extract per-record facts), so results never depend on the thread count.

/// A 64-bit hash of a string: FNV-1a, then the splitmix64 finalizer so every bit is mixed
/// (HyperLogLog reads the low and the high bits).
enum StatsHash {
    static func of(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}

/// How many distinct keys were seen: exact (a set of 64-bit hashes) up to `exactCap` keys, then a
/// HyperLogLog estimate with 4,096 registers (standard error 1.04/√4096 ≈ 1.6%). Memory is at most
/// ~1 MB for the set (65,536 keys) plus 4 KB of registers, whatever the input size.
public struct DistinctCounter: Sendable {
    static let registerBits = 12
    public let exactCap: Int
    var exact: Set<UInt64>? = []
    var registers = [UInt8](repeating: 0, count: 1 << registerBits)

    public init(exactCap: Int = 1 << 16) { self.exactCap = exactCap }

    public mutating func add(_ key: String) { add(hash: StatsHash.of(key)) }

    public mutating func add(hash h: UInt64) {
        let bucket = Int(h >> UInt64(64 - DistinctCounter.registerBits))
        let rest = h << UInt64(DistinctCounter.registerBits)
        let rank = UInt8(Swift.min(64 - DistinctCounter.registerBits, rest.leadingZeroBitCount) + 1)
        if rank > registers[bucket] { registers[bucket] = rank }
        if exact != nil {
            exact!.insert(h)
            if exact!.count > exactCap { exact = nil }
        }
    }

    /// True while the count is exact.
    public var isExact: Bool { exact != nil }

    public var count: Int {
        if let exact { return exact.count }
        let m = Double(registers.count)
        var sum = 0.0
        var zeros = 0
        for r in registers {
            sum += 1 / Double(UInt64(1) << UInt64(r))
            if r == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / m)
        let raw = alpha * m * m / sum
        if raw <= 2.5 * m, zeros > 0 { return Int((m * log(m / Double(zeros))).rounded()) }
        return Int(raw.rounded())
    }

    /// {"count": n, "exact": bool}
    public var json: JSON { ["count": .number(JSONNumber(count)), "exact": .bool(isExact)] }
}

/// A table keyed by name with at most `cap` rows; keys after the first `cap` distinct ones (in
/// input order) are folded into one `other` row, and `otherObservations` says how many updates
/// went there. Tool names, domains and reasons are small vocabularies, so the cap rarely bites;
/// when it does, the report says so.
public struct BoundedTable<Row: Sendable>: Sendable {
    public let cap: Int
    let make: @Sendable () -> Row
    public private(set) var keys: [String] = []
    var index: [String: Int] = [:]
    public private(set) var rows: [Row] = []
    public private(set) var other: Row
    public private(set) var otherObservations = 0

    public init(cap: Int, make: @escaping @Sendable () -> Row) {
        self.cap = cap
        self.make = make
        other = make()
    }

    /// Applies `update` to `key`'s row (or to `other` when the table is full).
    public mutating func update(_ key: String, _ body: (inout Row) -> Void) {
        if let k = index[key] {
            body(&rows[k])
        } else if rows.count < cap {
            index[key] = rows.count
            keys.append(key)
            var row = make()
            body(&row)
            rows.append(row)
        } else {
            otherObservations += 1
            body(&other)
        }
    }

    public var isCapped: Bool { otherObservations > 0 }
    public var count: Int { rows.count }
    public subscript(key: String) -> Row? { index[key].map { rows[$0] } }
    public var entries: [(key: String, row: Row)] { zip(keys, rows).map { ($0, $1) } }
}

/// Counts per name (a `BoundedTable` of integers).
public struct BoundedCounts: Sendable {
    public var table: BoundedTable<Int>

    public init(cap: Int = 1000) { table = BoundedTable(cap: cap, make: { 0 }) }

    public mutating func add(_ key: String, _ n: Int = 1) { table.update(key) { $0 += n } }

    public var total: Int { table.rows.reduce(0, +) + table.other }

    /// Largest first, ties by name.
    public var sorted: [(key: String, count: Int)] {
        table.entries.map { ($0.key, $0.row) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    /// {name: count, ...} largest first; "(other)" last when the cap was reached.
    public var json: JSON {
        var o = JSONObject(sorted.map { JSONMember($0.key, .number(JSONNumber($0.count))) })
        if table.isCapped { o[StatsFormat.otherKey] = .number(JSONNumber(table.other)) }
        return .object(o)
    }
}

/// The k largest items by a score, ties broken by input order (earlier first): deterministic and
/// bounded whatever the input size.
public struct TopK<Item: Sendable>: Sendable {
    public let k: Int
    public private(set) var items: [(score: Double, ordinal: Int, item: Item)] = []
    /// Everything offered, kept or not.
    public private(set) var offered = 0

    public init(k: Int) { self.k = k }

    static func before(_ a: (score: Double, ordinal: Int), _ b: (score: Double, ordinal: Int)) -> Bool {
        a.score != b.score ? a.score > b.score : a.ordinal < b.ordinal
    }

    public mutating func offer(_ item: Item, score: Double, ordinal: Int) {
        offered += 1
        guard k > 0 else { return }
        if items.count == k, let last = items.last, !TopK.before((score, ordinal), (last.score, last.ordinal)) { return }
        var lo = 0, hi = items.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if TopK.before((items[mid].score, items[mid].ordinal), (score, ordinal)) { lo = mid + 1 } else { hi = mid }
        }
        items.insert((score, ordinal, item), at: lo)
        if items.count > k { items.removeLast() }
    }

    public var sorted: [Item] { items.map(\.item) }
}

/// Locale-free number formatting shared by the JSON, Markdown and HTML writers.
public enum StatsFormat {
    public static let otherKey = "(other)"

    /// `value` rounded to `digits` decimals.
    public static func round(_ value: Double, _ digits: Int) -> Double {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return (value * scale).rounded() / scale
    }

    /// A JSON number: integral values without a fraction, others rounded to 6 decimals.
    public static func number(_ value: Double) -> JSONNumber? {
        guard value.isFinite else { return nil }
        if value == value.rounded(), abs(value) < 9e15 { return JSONNumber(Int(value)) }
        return JSONNumber(round(value, 6))
    }

    public static func json(_ value: Double?) -> JSON { value.flatMap(number).map(JSON.number) ?? .null }

    /// `value` with `digits` decimals: "0.50", "12.0".
    public static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let n = Int((abs(value) * scale).rounded())
        let sign = value < 0 && n != 0 ? "-" : ""
        if digits == 0 { return sign + String(n) }
        let s = Int(scale)
        let frac = String(n % s)
        return sign + "\(n / s)." + String(repeating: "0", count: digits - frac.count) + frac
    }

    /// Thousands separated by a thin comma: 1234567 → "1,234,567".
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (k, c) in digits.enumerated() {
            if k > 0, (digits.count - k) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A number for people: integers grouped, others with up to `digits` decimals (trailing zeros cut).
    public static func human(_ value: Double, digits: Int = 2) -> String {
        guard value.isFinite else { return "-" }
        if value == value.rounded(), abs(value) < 9e15 { return grouped(Int(value)) }
        var s = fixed(value, digits)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        if let dot = s.firstIndex(of: "."), let whole = Int(s[..<dot]) {
            return (value < 0 && whole == 0 ? "-" : "") + grouped(whole) + s[dot...]
        }
        return s
    }

    /// A share as a percentage: 0.1234 → "12.3%".
    public static func percent(_ share: Double, digits: Int = 1) -> String {
        guard share.isFinite else { return "-" }
        return fixed(share * 100, digits) + "%"
    }
}
