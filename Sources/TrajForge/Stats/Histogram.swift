import ByteJSON

/// A mergeable histogram of integers with bounded memory, for quantiles over any number of values.
///
/// HDR-style buckets: every value below 16,384 has its own bucket (exact); above, each power of two
/// is cut into 8,192 buckets, so a reported quantile is within 1/8,192 (0.012%) of the true one
/// (it is the largest value its bucket can hold, clipped to the exact maximum). Count, sum, min and
/// max are exact. The bucket array grows only to the largest value seen: ~130 KB for values up to
/// 16k, at most ~3.3 MB for values near 2^62. Negative values use a mirrored array.
/// Merging is exact and order-independent, so results do not depend on thread count.
public struct QuantileHistogram: Sendable, Equatable {
    /// Values below this are counted exactly.
    public static let exactLimit: Int64 = 1 << 14
    static let subBits = 13
    static let subCount = 1 << subBits
    /// The bound on the relative error of a quantile above `exactLimit`.
    public static let relativeError = 1.0 / Double(1 << subBits)

    var positive: [UInt64] = []
    var negative: [UInt64] = []
    public private(set) var count = 0
    public private(set) var sum: Double = 0
    public private(set) var min: Int64 = .max
    public private(set) var max: Int64 = .min

    public init() {}

    /// The bucket of a non-negative value.
    static func index(_ v: UInt64) -> Int {
        if v < UInt64(exactLimit) { return Int(v) }
        let e = 63 - v.leadingZeroBitCount  // floor(log2 v) ≥ 14
        let shift = e - subBits
        return Int(exactLimit) + (e - 14) * subCount + Int(v >> UInt64(shift)) - subCount
    }

    /// The smallest and largest value bucket `i` holds.
    static func range(_ i: Int) -> (lo: UInt64, hi: UInt64) {
        if i < Int(exactLimit) { return (UInt64(i), UInt64(i)) }
        let k = i - Int(exactLimit)
        let e = k / subCount + 14
        let sub = UInt64(k % subCount + subCount)
        let shift = UInt64(e - subBits)
        let lo = sub << shift
        return (lo, lo + (UInt64(1) << shift) - 1)
    }

    public mutating func add(_ value: Int64, count n: Int = 1) {
        guard n > 0 else { return }
        if value >= 0 {
            let i = QuantileHistogram.index(UInt64(value))
            if i >= positive.count { positive += [UInt64](repeating: 0, count: i + 1 - positive.count) }
            positive[i] += UInt64(n)
        } else {
            let i = QuantileHistogram.index(value.magnitude)
            if i >= negative.count { negative += [UInt64](repeating: 0, count: i + 1 - negative.count) }
            negative[i] += UInt64(n)
        }
        count += n
        sum += Double(value) * Double(n)
        if value < min { min = value }
        if value > max { max = value }
    }

    public mutating func add(_ value: Int, count n: Int = 1) { add(Int64(value), count: n) }

    public mutating func merge(_ other: QuantileHistogram) {
        if other.positive.count > positive.count { positive += [UInt64](repeating: 0, count: other.positive.count - positive.count) }
        for (i, c) in other.positive.enumerated() where c > 0 { positive[i] += c }
        if other.negative.count > negative.count { negative += [UInt64](repeating: 0, count: other.negative.count - negative.count) }
        for (i, c) in other.negative.enumerated() where c > 0 { negative[i] += c }
        count += other.count
        sum += other.sum
        if other.count > 0 {
            min = Swift.min(min, other.min)
            max = Swift.max(max, other.max)
        }
    }

    public var isEmpty: Bool { count == 0 }
    public var mean: Double? { count > 0 ? sum / Double(count) : nil }

    /// Non-empty buckets in ascending value order: (smallest value, largest value, count).
    public var buckets: [(lo: Int64, hi: Int64, count: Int)] {
        var out: [(Int64, Int64, Int)] = []
        for i in negative.indices.reversed() where negative[i] > 0 {
            let r = QuantileHistogram.range(i)
            out.append((-Int64(clamping: r.hi), -Int64(clamping: r.lo), Int(negative[i])))
        }
        for i in positive.indices where positive[i] > 0 {
            let r = QuantileHistogram.range(i)
            out.append((Int64(clamping: r.lo), Int64(clamping: r.hi), Int(positive[i])))
        }
        return out
    }

    /// The smallest value L such that at least a share q of the values are ≤ L (nearest rank);
    /// exact below `exactLimit`, else the top of L's bucket (within `relativeError`), never above max.
    public func quantile(_ q: Double) -> Int64? {
        guard count > 0 else { return nil }
        let rank = Swift.max(1, Int((q * Double(count)).rounded(.up)))
        var seen = 0
        for b in buckets {
            seen += b.count
            if seen >= rank { return Swift.min(Swift.max(b.hi, min), max) }
        }
        return max
    }

    /// Values strictly above `cutoff`: exact when `cutoff` is a bucket edge (always below `exactLimit`).
    public func countAbove(_ cutoff: Int64) -> Int {
        buckets.reduce(0) { $0 + ($1.lo > cutoff ? $1.count : 0) }
    }

    /// Equal-width display bins covering [min, max], about `target` of them, with "nice" widths
    /// (1, 2, 5 × 10^k of `scale`-d units). Each bucket counts in the bin holding its smallest value.
    public func bins(target: Int = 30) -> [Bin] {
        guard count > 0 else { return [] }
        let span = Double(max) - Double(min)
        let width = Swift.max(1, QuantileHistogram.niceWidth(span / Double(target)))
        let lo = (Double(min) / width).rounded(.down) * width
        let n = Swift.max(1, Int(((Double(max) - lo) / width).rounded(.down)) + 1)
        var counts = [Int](repeating: 0, count: n)
        for b in buckets {
            let k = Swift.min(n - 1, Swift.max(0, Int(((Double(b.lo) - lo) / width).rounded(.down))))
            counts[k] += b.count
        }
        return counts.enumerated().map { Bin(lo: lo + Double($0.offset) * width, hi: lo + Double($0.offset + 1) * width, count: $0.element) }
    }

    /// 1, 2 or 5 × 10^k, at least `raw`.
    static func niceWidth(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        var p = 1.0
        while p * 10 <= raw { p *= 10 }
        while p > raw { p /= 10 }
        for m in [1.0, 2, 5, 10] where m * p >= raw { return m * p }
        return 10 * p
    }
}

/// One display bin: [lo, hi) and how many values fell in it.
public struct Bin: Sendable, Equatable {
    public var lo: Double
    public var hi: Double
    public var count: Int

    public init(lo: Double, hi: Double, count: Int) {
        self.lo = lo
        self.hi = hi
        self.count = count
    }
}

/// A distribution summary for reports: exact count/sum/min/max/mean, histogram quantiles, display bins.
/// `scale` divides stored integers back into units (rewards are stored in thousandths).
public struct Distribution: Sendable {
    public var histogram = QuantileHistogram()
    public var scale: Double = 1

    public init(scale: Double = 1) { self.scale = scale }

    public mutating func add(_ value: Int) { histogram.add(value) }

    public mutating func add(_ value: Double) {
        histogram.add(Int64((value * scale).rounded()))
    }

    public mutating func merge(_ other: Distribution) { histogram.merge(other.histogram) }

    public var count: Int { histogram.count }

    public func quantile(_ q: Double) -> Double? { histogram.quantile(q).map { Double($0) / scale } }

    /// {count, sum, mean, min, p50, p90, p99, max, bins: [[lo, hi, count], ...]}
    public var json: JSON {
        let h = histogram
        func num(_ v: Double?) -> JSON { v.flatMap { StatsFormat.number($0) }.map(JSON.number) ?? .null }
        var o: JSONObject = ["count": .number(JSONNumber(h.count))]
        o["sum"] = num(h.count > 0 ? h.sum / scale : 0)
        o["mean"] = num(h.mean.map { StatsFormat.round($0 / scale, 4) })
        o["min"] = num(h.count > 0 ? Double(h.min) / scale : nil)
        o["p50"] = num(quantile(0.5))
        o["p90"] = num(quantile(0.9))
        o["p99"] = num(quantile(0.99))
        o["max"] = num(h.count > 0 ? Double(h.max) / scale : nil)
        o["bins"] = .array(h.bins().map { b in
            .array([num(StatsFormat.round(b.lo / scale, 6)), num(StatsFormat.round(b.hi / scale, 6)), .number(JSONNumber(b.count))])
        })
        return .object(o)
    }
}
