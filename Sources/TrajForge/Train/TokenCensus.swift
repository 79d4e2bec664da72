import ByteJSON

// Token counts of a training set, read from tokenized sample files (`render --tokenizer`) or from
// shard sets (`shard`; their manifest lists the files): what the planner turns into steps and time.

public struct TokenCensus: Sendable, Equatable {
    /// The inputs, as the readers described them.
    public var inputs: [String] = []
    /// Sequence lengths: one per SFT sample, or per preference sequence (prompt + completion).
    public var lengths = LengthHistogram()
    /// Trained samples (SFT samples, preference pairs, KTO examples).
    public var samples = 0
    /// Tokens the model processes per epoch (a pair counts prompt + chosen and prompt + rejected).
    public var tokens = 0
    /// Sum over sequences of length² (the attention term of the FLOP count).
    public var squaredLengthSum: Double = 0
    /// Supervised tokens (labels other than -100), where samples carry labels.
    public var supervisedTokens = 0
    /// Records without token ids (not counted).
    public var unmeasured = 0
    /// What was measured: input_ids, pairs (prompt/chosen/rejected ids), kto (prompt/completion ids).
    public var kinds: Set<String> = []

    public init() {}

    /// Token counts of one record, or nil when it carries no token ids.
    static func measure(_ json: JSON) -> (samples: Int, sequences: [Int], supervised: Int, kind: String)? {
        if let ids = json["input_ids"]?.array {
            let supervised = json["labels"]?.array.map { $0.filter { $0.int != -100 }.count }
                ?? json["assistant_masks"]?.array.map { $0.filter { $0.int == 1 }.count } ?? 0
            return (1, [ids.count], supervised, "input_ids")
        }
        if let p = json["prompt_input_ids"]?.array {
            if let c = json["chosen_input_ids"]?.array, let r = json["rejected_input_ids"]?.array {
                return (1, [p.count + c.count, p.count + r.count], c.count + r.count, "pairs (prompt/chosen/rejected ids)")
            }
            if let c = json["completion_input_ids"]?.array {
                return (1, [p.count + c.count], c.count, "kto (prompt/completion ids)")
            }
        }
        return nil
    }

    public mutating func add(_ json: JSON) {
        add(TokenCensus.measure(json))
    }

    mutating func add(_ measured: (samples: Int, sequences: [Int], supervised: Int, kind: String)?) {
        guard let m = measured else {
            unmeasured += 1
            return
        }
        samples += m.samples
        for l in m.sequences {
            lengths.add(l)
            tokens += l
            squaredLengthSum += Double(l) * Double(l)
        }
        supervisedTokens += m.supervised
        kinds.insert(m.kind)
    }

    /// Reads every record of `paths` (sample files, compressed or not, or shard folders/files).
    public static func read(_ paths: [String], threads: Int = defaultThreadCount) throws -> TokenCensus {
        var census = TokenCensus()
        for path in paths {
            let reader: RecordReader?
            if ShardSet.isShardInput(path) {
                let opened = try ShardSet.openReader(path)
                reader = opened.reader
                census.inputs.append(opened.description)
            } else {
                let opened = try openRecords(path)
                reader = opened.reader
                census.inputs.append(opened.describe(path))
            }
            guard let reader else { continue }
            while let batch = try reader.nextBatch() {
                let measured = parallelMap(count: batch.items.count, threads: threads) { k -> (samples: Int, sequences: [Int], supervised: Int, kind: String)? in
                    guard case .record(let raw) = batch.items[k], case .success(let json) = parseRecord(batch, raw) else { return nil }
                    return TokenCensus.measure(json)
                }
                for m in measured { census.add(m) }
            }
        }
        return census
    }
}
