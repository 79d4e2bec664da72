import BPE
import ByteJSON

/// Token lengths kept as a histogram (length → count): exact percentiles in memory that grows with
/// the number of distinct lengths, not with the number of samples.
public struct LengthHistogram: Sendable, Equatable {
    public private(set) var counts: [Int: Int] = [:]
    public private(set) var total = 0

    public init() {}

    public mutating func add(_ length: Int, count: Int = 1) {
        counts[length, default: 0] += count
        total += count
    }

    public mutating func merge(_ other: LengthHistogram) {
        for (k, v) in other.counts { add(k, count: v) }
    }

    /// The smallest length L such that at least q of the samples are ≤ L (nearest-rank).
    public func percentile(_ q: Double) -> Int? {
        guard total > 0 else { return nil }
        let rank = Swift.max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for length in counts.keys.sorted() {
            seen += counts[length]!
            if seen >= rank { return length }
        }
        return counts.keys.max()
    }

    public var max: Int? { counts.keys.max() }
    public var sum: Int { counts.reduce(0) { $0 + $1.key * $1.value } }
    public func countAbove(_ cutoff: Int) -> Int { counts.filter { $0.key > cutoff }.reduce(0) { $0 + $1.value } }

    public var json: JSON {
        ["samples": .number(JSONNumber(total)), "tokens": .number(JSONNumber(sum)),
         "p50": percentile(0.5).map { .number(JSONNumber($0)) } ?? .null,
         "p90": percentile(0.9).map { .number(JSONNumber($0)) } ?? .null,
         "p99": percentile(0.99).map { .number(JSONNumber($0)) } ?? .null,
         "max": max.map { .number(JSONNumber($0)) } ?? .null]
    }
}

/// Token counts of one record: samples with `input_ids` (and `labels`) are counted as they are;
/// samples with `text` are encoded (special tokens parsed, none added, as rendered text needs);
/// canonical trajectories are measured on their text without a chat template.
public enum TokenCounter {
    public static func count(_ json: JSON, tokenizer: Tokenizer?) -> (total: Int, supervised: Int?, measured: String)? {
        if let ids = json["input_ids"]?.array {
            let supervised = json["labels"]?.array.map { $0.filter { $0.int != -100 }.count }
                ?? json["assistant_masks"]?.array.map { $0.filter { $0.int == 1 }.count }
            return (ids.count, supervised, "input_ids")
        }
        guard let tokenizer else { return nil }
        if let text = json["text"]?.string {
            return (tokenizer.encode(text, parseSpecial: true).count, nil, "text")
        }
        if let t = try? Trajectory(json: json) {
            return (tokenizer.encode(Filter.measuredText(t), parseSpecial: false).count, nil, "trajectory text (no template)")
        }
        return nil
    }
}
