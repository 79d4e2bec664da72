import ByteJSON
import Jinja
import Crypto
import Foundation

public enum PairStrategy: String, Sendable, CaseIterable {
    /// A failed rollout's first wrong write call (or a missing one), corrected from the reference actions.
    case correction
    /// A verified and a failed rollout whose contexts match up to the first assistant difference.
    case firstDivergence = "first-divergence"
    /// Whole verified vs whole failed rollouts of one task.
    case trajectory
    /// The correction analysis, as unpaired desirable / undesirable turns.
    case kto
}

public enum PairOutput: String, Sendable, CaseIterable {
    /// TRL conversational DPO: {prompt, chosen, rejected, tools} as message lists.
    case trlDPO = "trl-dpo"
    /// TRL KTO: {prompt, completion, label, tools}.
    case trlKTO = "trl-kto"
    /// LLaMA-Factory ranking ShareGPT: {conversations, chosen, rejected, system, tools}.
    case sharegpt
    /// Rendered with a chat template (and tokenized): texts, spans, ids, labels.
    case rendered
}

/// What makes rollouts "the same task".
public enum PairGrouping: String, Sendable, CaseIterable {
    /// The group from ingest (`<domain>:<task id>`), else the task instruction.
    case task
    /// The task instruction text, else the group: for runs whose task ids do not line up.
    case instruction

    public func key(_ t: Trajectory) -> String {
        switch self {
        case .task: Splitter.groupKey(t)
        case .instruction: t.task?.instruction.map { "instruction:" + $0 } ?? Splitter.groupKey(t)
        }
    }
}

public struct PairOptions: Sendable {
    public var grouping: PairGrouping = .task
    public var strategy: PairStrategy = .correction
    public var output: PairOutput = .trlDPO
    public var arguments: ArgumentsForm = .object
    /// The tools column of TRL records: wrapped (`{type, function}`, OpenAI's form) or raw (the
    /// function objects, which xLAM-2's template expects). nil = wrapped.
    public var toolForm: ToolForm?
    public var kinds = ToolKinds()
    /// Pairs kept per task (seeded choice when there are more); nil = all.
    public var maxPerTask: Int?
    /// Pairs a failed rollout may take part in (first-divergence and trajectory).
    public var maxPerRollout = 1
    public var seed: UInt64 = 0
    /// For `--to rendered`: the template, and a tokenizer for ids and labels.
    public var template: ChatTemplate?
    public var tokenization: TokenizationOptions?
    /// Extra template variables and a pinned date for `--to rendered` (as in `render`).
    public var variables: JSONObject = [:]
    public var date: CivilDateTime?
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()
    public init() {}
}

/// The pairs stage: groups rollouts by task (across files and models), pairs them by a strategy,
/// and writes the pairs; every rollout that gives no pair is dropped with the reason.
public final class PairBuilder {
    let options: PairOptions
    public private(set) var ledger = Ledger(stage: "pairs")
    public private(set) var statistics = PairStatistics()

    public init(options: PairOptions) {
        self.options = options
        ledger.outputUnit = options.output == .trlKTO || options.strategy == .kto ? "KTO records" : "pairs"
    }

    /// Groups are gathered through bucket files (a stable hash of the task key picks the bucket),
    /// so memory holds one bucket at a time, not the whole input. Output follows the input: tasks
    /// in order of their first rollout, whatever the bucket or thread count.
    public func run(inputs: [String], output: OutputFile, rejects: OutputFile?, drops: OutputFile?, buckets: Int = 64) throws(IOError) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trajforge-pairs-\(getpid())-\(UUID().uuidString.prefix(8))").path
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw IOError(path: dir, "cannot create a temporary folder: \(error)")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bucketFiles = try (0..<buckets).map { b throws(IOError) in try OutputFile(path: "\(dir)/bucket-\(b).jsonl", compression: OutputCompression(.none)) }

        // Pass 1: spread the rollouts over the buckets (in input order within each bucket), and
        // remember where each task first appears (one integer per task).
        var firstSeen: [String: Int] = [:]
        var sequence = 0
        var spill = Ledger(stage: "pairs")
        for path in inputs {
            let input = try openRecords(path, limits: options.limits)
            guard let reader = input.reader else { continue }
            while let batch = try reader.nextBatch() {
                let decoded = parallelMap(count: batch.items.count, threads: options.threads) { k -> (String, [UInt8])? in
                    guard case .record(let raw) = batch.items[k], case .success(let t) = readTrajectory(batch, raw, stage: "pairs") else { return nil }
                    var line = t.json.serializedBytes()
                    line.append(0x0A)
                    return (options.grouping.key(t), line)
                }
                var perBucket = [[UInt8]](repeating: [], count: buckets)
                var rejected: [Reject] = []
                for (k, item) in batch.items.enumerated() {
                    switch item {
                    case .problem(let p): rejected.append(p)
                    case .record(let raw):
                        if let (key, line) = decoded[k] {
                            if firstSeen[key] == nil { firstSeen[key] = sequence }
                            sequence += 1
                            perBucket[PairBuilder.bucket(key, of: buckets)] += line
                        } else if case .failure(let r) = readTrajectory(batch, raw, stage: "pairs") {
                            rejected.append(r)
                        }
                    case .context: break
                    }
                }
                for (b, bytes) in perBucket.enumerated() where !bytes.isEmpty { try bucketFiles[b].write(bytes) }
                spill.input += rejected.count
                for r in rejected { spill.reject(r.reason) }
                try RecordStage.writeRejects(rejected, to: rejects)
            }
        }
        for f in bucketFiles { try f.commit() }
        ledger.merge(spill)

        // Pass 2: each bucket's groups; their lines go to one results file, indexed by the task's
        // first appearance.
        let resultsPath = "\(dir)/results.bin"
        let results = try OutputFile(path: resultsPath, compression: OutputCompression(.none))
        var index: [(first: Int, offset: Int, lines: Int, drops: Int)] = []
        var offset = 0
        for b in 0..<buckets {
            let path = "\(dir)/bucket-\(b).jsonl"
            let bytes: [UInt8]
            do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) } catch { throw IOError(path: path, "cannot read back: \(error)") }
            try? FileManager.default.removeItem(atPath: path)
            if bytes.isEmpty { continue }
            var order: [String] = []
            var groups: [String: [Trajectory]] = [:]
            for line in bytes.split(separator: 0x0A) {
                // These lines were written by pass 1 from valid trajectories.
                guard let json = try? JSON.parse(Array(line)), let t = try? Trajectory(json: json) else {
                    throw IOError(path: path, "a temporary bucket line does not read back")
                }
                let key = options.grouping.key(t)
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(t)
            }
            let options = self.options
            let grouped = parallelMap(count: order.count, threads: options.threads) { g in
                PairBuilder.pairs(for: groups[order[g]]!, options: options)
            }
            var chunk: [UInt8] = []
            for (key, r) in zip(order, grouped) {
                ledger.input += r.inputs
                ledger.kept += r.kept
                var dropLines: [UInt8] = []
                for d in r.drops {
                    ledger.drop(d.reason)
                    JSONWriter.compact.write(d.json, into: &dropLines)
                    dropLines.append(0x0A)
                }
                // Pairs that failed a render check: listed, counted, but not rollouts.
                for d in r.pairDrops {
                    JSONWriter.compact.write(d.json, into: &dropLines)
                    dropLines.append(0x0A)
                }
                for (k, v) in r.counters { ledger.count(k, v) }
                ledger.output += r.outputs
                statistics.merge(r.statistics)
                index.append((firstSeen[key]!, offset, r.lines.count, dropLines.count))
                chunk += r.lines
                chunk += dropLines
                offset += r.lines.count + dropLines.count
            }
            try results.write(chunk)
        }
        try results.commit()

        // Pass 3: pairs and drops in input order.
        index.sort { $0.first < $1.first }
        guard let handle = FileHandle(forReadingAtPath: resultsPath) else { throw IOError(path: resultsPath, "cannot read back") }
        defer { try? handle.close() }
        func read(_ at: Int, _ count: Int) throws(IOError) -> [UInt8] {
            do {
                try handle.seek(toOffset: UInt64(at))
                let data = try handle.read(upToCount: count) ?? Data()
                guard data.count == count else { throw IOError(path: resultsPath, "short read") }
                return [UInt8](data)
            } catch let e as IOError { throw e } catch { throw IOError(path: resultsPath, "cannot read back: \(error)") }
        }
        var pending: [UInt8] = [], pendingDrops: [UInt8] = []
        for entry in index {
            if entry.lines > 0 { pending += try read(entry.offset, entry.lines) }
            if entry.drops > 0, drops != nil { pendingDrops += try read(entry.offset + entry.lines, entry.drops) }
            if pending.count >= 1 << 20 { try output.write(pending); pending.removeAll(keepingCapacity: true) }
            if pendingDrops.count >= 1 << 20 { try drops?.write(pendingDrops); pendingDrops.removeAll(keepingCapacity: true) }
        }
        if !pending.isEmpty { try output.write(pending) }
        if let drops, !pendingDrops.isEmpty { try drops.write(pendingDrops) }
    }

    /// A stable bucket for a task key (SHA-256, not Swift's per-process seeded Hasher).
    static func bucket(_ key: String, of n: Int) -> Int {
        let digest = Array(SHA256.hash(data: Array(key.utf8)))
        var x: UInt64 = 0
        for b in digest.prefix(8) { x = x << 8 | UInt64(b) }
        return Int(x % UInt64(n))
    }

    struct GroupResult {
        var lines: [UInt8] = []
        /// One per rollout that gave no pair (these balance the ledger).
        var drops: [Drop] = []
        /// Pairs that failed a render check (listed in the drops file, counted apart).
        var pairDrops: [Drop] = []
        var inputs = 0
        var kept = 0
        var outputs = 0
        var counters: [String: Int] = [:]
        var statistics = PairStatistics()
    }

    /// The pairs of one task's rollouts.
    static func pairs(for rollouts: [Trajectory], options: PairOptions) -> GroupResult {
        var result = GroupResult()
        result.inputs = rollouts.count
        let verified = rollouts.filter { $0.outcome?.success == true }
        let failed = rollouts.filter { $0.outcome?.success == false }
        var used: Set<String> = []
        var reasons: [String: PairFailure] = [:]
        var candidates: [PreferencePair] = []

        switch options.strategy {
        case .correction, .kto:
            for f in failed {
                let reference: [ReferenceAction]
                let source: String
                if let actions = f.referenceActions {
                    reference = actions
                    source = "task"
                } else if let v = verified.first {
                    reference = v.callsAsReference
                    source = v.id
                } else {
                    reasons[f.id] = PairFailure("reference-missing", "no ground-truth actions in the task and no verified rollout of this task")
                    continue
                }
                switch Correction.pair(f, reference: reference, referenceSource: source, kinds: options.kinds) {
                case .success(let p): candidates.append(p)
                case .failure(let e):
                    reasons[f.id] = e
                    if let kind = e.deviation { result.statistics.noteUnpaired(kind) }
                }
            }
        case .firstDivergence, .trajectory:
            if verified.isEmpty {
                for f in failed { reasons[f.id] = PairFailure("no-verified-rollout", "no verified rollout of this task to pair with") }
            }
            for f in failed where !verified.isEmpty {
                var mine: [PreferencePair] = []
                var firstFailure: PairFailure?
                for v in verified {
                    let r = options.strategy == .trajectory ? WholeTrajectory.pair(verified: v, failed: f) : Divergence.pair(verified: v, failed: f)
                    switch r {
                    case .success(let p): mine.append(p)
                    case .failure(let e):
                        firstFailure = firstFailure ?? e
                        result.statistics.candidatesRejected[e.reason, default: 0] += 1
                    }
                }
                if mine.isEmpty {
                    reasons[f.id] = firstFailure!
                } else {
                    candidates += seeded(mine, seed: options.seed).prefix(options.maxPerRollout)
                }
            }
        }

        // Identical pairs once; then the per-task limit, by a seeded order.
        var seen: Set<String> = []
        candidates = candidates.filter { p in
            if seen.insert(p.contentKey).inserted { return true }
            reasons[p.rejectedSource] = reasons[p.rejectedSource] ?? PairFailure("duplicate-pair", "the same pair as another rollout of this task gives")
            return false
        }
        if let limit = options.maxPerTask, candidates.count > limit {
            let chosen = Set(seeded(candidates, seed: options.seed).prefix(limit).map(\.id))
            for p in candidates where !chosen.contains(p.id) {
                reasons[p.rejectedSource] = reasons[p.rejectedSource] ?? PairFailure("task-limit", "more than --max-pairs-per-task \(limit) pairs for this task")
            }
            candidates = candidates.filter { chosen.contains($0.id) }
        }

        for p in candidates {
            switch PairWriter.write(p, options: options, into: &result.lines) {
            case .success(let n):
                result.outputs += n
                used.insert(p.rejectedSource)
                if let c = p.chosenSource { used.insert(c) }
                if p.chosenFrom != "task" { used.insert(p.chosenFrom) }  // a verified rollout served as reference
                result.statistics.note(p)
            case .failure(let e):
                result.counters["pairs dropped: \(e.reason)", default: 0] += 1
                result.pairDrops.append(Drop(id: p.id, stage: "pairs", reason: e.reason, detail: e.detail))
                reasons[p.rejectedSource] = reasons[p.rejectedSource] ?? e
            }
        }
        for t in rollouts {
            if used.contains(t.id) {
                result.kept += 1
            } else if let e = reasons[t.id] {
                var details: JSONObject = [:]
                if let kind = e.deviation { details["deviation"] = .string(kind.rawValue) }
                result.drops.append(Drop(id: t.id, stage: "pairs", reason: e.reason, detail: e.detail, details: details))
            } else if t.outcome?.success == true {
                let why = switch options.strategy {
                case .correction, .kto: "correction pairs come from failed rollouts; the reference is the task's actions"
                case .firstDivergence, .trajectory: "no failed rollout of this task was paired with it"
                }
                result.drops.append(Drop(id: t.id, stage: "pairs", reason: "verified-unused", detail: "a verified rollout not used in any pair: \(why)"))
            } else {
                result.drops.append(Drop(id: t.id, stage: "pairs", reason: "no-outcome", detail: "success is unknown: not usable as either side"))
            }
        }
        return result
    }

    /// `items` in an order fixed by the seed and their ids.
    static func seeded(_ items: [PreferencePair], seed: UInt64) -> [PreferencePair] {
        func rank(_ p: PreferencePair) -> [UInt8] { Array(SHA256.hash(data: Array("\(seed)\u{0}\(p.id)".utf8))) }
        return items.map { (rank($0), $0) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }.map(\.1)
    }
}

/// Counts for the pairs summary and `--stats`: pairs per task and strategy, deviation kinds (with
/// the arguments that were wrong), and where in the conversation the deviation happened.
public struct PairStatistics: Sendable, Equatable {
    public var pairs = 0
    public var perStrategy: [String: Int] = [:]
    public var perTask: [String: Int] = [:]
    public var deviations: [String: Int] = [:]
    /// Deviations found but not turned into a pair, by kind.
    public var unpaired: [String: Int] = [:]
    public var wrongArguments: [String: Int] = [:]
    /// Deviation position (assistant message index) in buckets of 5.
    public var positions: [String: Int] = [:]
    /// first-divergence and trajectory: candidate (verified, failed) pairs refused, by reason
    /// (user-diverged-first, tool-diverged-first, …).
    public var candidatesRejected: [String: Int] = [:]

    public init() {}

    mutating func note(_ p: PreferencePair) {
        pairs += 1
        perStrategy[p.strategy, default: 0] += 1
        perTask[p.group ?? "(no task)", default: 0] += 1
        deviations[p.deviation.kind.rawValue, default: 0] += 1
        for a in p.deviation.arguments { wrongArguments["\(p.deviation.tool ?? "?").\(a)", default: 0] += 1 }
        if let pos = p.deviation.position {
            let lo = pos / 5 * 5
            positions["\(lo)-\(lo + 4)", default: 0] += 1
        }
    }

    mutating func noteUnpaired(_ kind: Deviation.Kind) { unpaired[kind.rawValue, default: 0] += 1 }

    mutating func merge(_ o: PairStatistics) {
        pairs += o.pairs
        for (k, v) in o.perStrategy { perStrategy[k, default: 0] += v }
        for (k, v) in o.perTask { perTask[k, default: 0] += v }
        for (k, v) in o.deviations { deviations[k, default: 0] += v }
        for (k, v) in o.unpaired { unpaired[k, default: 0] += v }
        for (k, v) in o.wrongArguments { wrongArguments[k, default: 0] += v }
        for (k, v) in o.positions { positions[k, default: 0] += v }
        for (k, v) in o.candidatesRejected { candidatesRejected[k, default: 0] += v }
    }

    public var json: JSON {
        func counts(_ d: [String: Int]) -> JSON {
            .object(JSONObject(d.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number(JSONNumber($0.value))) }))
        }
        let sortedPositions = positions.sorted { (Int($0.key.split(separator: "-")[0]) ?? 0) < (Int($1.key.split(separator: "-")[0]) ?? 0) }
        return ["pairs": .number(JSONNumber(pairs)), "per_strategy": counts(perStrategy), "per_task": counts(perTask),
                "deviation_kinds": counts(deviations), "deviations_without_pair": counts(unpaired),
                "wrong_arguments": counts(wrongArguments), "candidates_rejected": counts(candidatesRejected),
                "deviation_positions": .object(JSONObject(sortedPositions.map { JSONMember($0.key, .number(JSONNumber($0.value))) }))]
    }

    /// A few lines for the command's summary.
    public var summary: [String] {
        var lines = ["pairs: \(pairs) (" + perStrategy.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"]
        if !deviations.isEmpty { lines.append("deviation kinds: " + deviations.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) }
        if !unpaired.isEmpty { lines.append("deviations without a pair: " + unpaired.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) }
        if !wrongArguments.isEmpty {
            lines.append("wrong arguments: " + wrongArguments.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(8).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !positions.isEmpty {
            let sorted = positions.sorted { (Int($0.key.split(separator: "-")[0]) ?? 0) < (Int($1.key.split(separator: "-")[0]) ?? 0) }
            lines.append("deviation positions (message index): " + sorted.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !candidatesRejected.isEmpty {
            lines.append("candidate pairs refused: " + candidatesRejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !perTask.isEmpty { lines.append("tasks with pairs: \(perTask.count), most pairs in one task: \(perTask.values.max() ?? 0)") }
        return lines
    }
}
