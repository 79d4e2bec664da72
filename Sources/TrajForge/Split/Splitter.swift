import ByteJSON
import Crypto

public enum SplitName: String, Sendable, CaseIterable {
    case train, validation, test
}

public struct SplitOptions: Sendable {
    /// Shares of task groups (not records) sent to validation and test; the rest is train.
    public var validation = 0.05
    public var test = 0.0
    public var seed: UInt64 = 0
    public var contamination: ContaminationIndex?
    /// Minimum overlap (0…1) that marks a record contaminated.
    public var contaminationThreshold = 0.5
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()
    public init() {}
}

/// The split stage: train / validation (/ test) by task group, so rollouts of one task never
/// straddle splits; optionally drops records that overlap evaluation items (contamination).
public final class Splitter {
    let options: SplitOptions
    public private(set) var ledger = Ledger(stage: "split")

    public init(options: SplitOptions) { self.options = options }

    /// The key that keeps rollouts of one task together: the group, else the task instruction,
    /// else the record itself.
    public static func groupKey(_ t: Trajectory) -> String {
        if let g = t.group { return "group:" + g }
        if let i = t.task?.instruction { return "instruction:" + i }
        return "id:" + t.id
    }

    /// Where a group goes: a seeded SHA-256 of its key mapped to [0, 1), cut at the shares.
    public static func assign(_ key: String, seed: UInt64, validation: Double, test: Double) -> SplitName {
        var hasher = SHA256()
        hasher.update(data: Array("\(seed)\u{0}\(key)".utf8))
        let digest = Array(hasher.finalize())
        var x: UInt64 = 0
        for b in digest.prefix(8) { x = x << 8 | UInt64(b) }
        let u = Double(x >> 11) / Double(1 << 53)
        if u < test { return .test }
        if u < test + validation { return .validation }
        return .train
    }

    /// `outputs` maps each split to its file (test may be absent when its share is 0).
    public func run(inputs: [String], outputs: [SplitName: OutputFile], rejects: OutputFile?, drops: OutputFile?) throws(IOError) {
        let options = self.options
        let lanes: [OutputFile?] = SplitName.allCases.map { outputs[$0] }
        try TrajectoryStage.run(inputs: inputs, stage: "split", threads: options.threads, limits: options.limits, ledger: &ledger,
                                output: nil, lanes: lanes, rejects: rejects, drops: drops) { t, out in
            if let index = options.contamination, let match = index.bestMatch(ContaminationIndex.trainingText(t)),
               match.overlap >= options.contaminationThreshold
            {
                out.drop(Drop(id: t.id, stage: "split", reason: "contaminated",
                              detail: String(format: "%.0f%% of evaluation item %@'s word %d-grams occur in this record", match.overlap * 100, match.item, index.n),
                              details: ["eval_item": .string(match.item), "overlap": JSONNumber(match.overlap).map(JSON.number) ?? .null,
                                        "shared_ngrams": .number(JSONNumber(match.shared)), "n": .number(JSONNumber(index.n))]))
                return
            }
            let key = Splitter.groupKey(t)
            let split = Splitter.assign(key, seed: options.seed, validation: options.validation, test: options.test)
            out.lane = SplitName.allCases.firstIndex(of: split)!
            out.count("\(split.rawValue) records")
            out.keep(t)
        }
    }
}
