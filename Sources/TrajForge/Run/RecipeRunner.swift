import BPE
import ByteJSON
import Crypto
import Foundation

/// Which part of a run to do: everything, the map steps of one task (of a task array), or the
/// merge that follows the tasks.
public enum RunPhase: String, Sendable {
    case all, map, merge
}

public struct RunOptions: Sendable {
    public var threads: Int = defaultThreadCount
    public var phase: RunPhase = .all
    /// This task's index and the task count: map steps run for input files k with k % count == index.
    public var taskIndex = 0
    public var taskCount = 1
    /// Run every step again, ignoring completion records.
    public var force = false
    public init() {}
}

/// What a run did: each stage's ledger (partitions merged), the steps run and skipped, and the
/// files it wrote.
public struct RunSummary: Sendable {
    public var ledgers: [Ledger] = []
    public var ran: [String] = []
    public var skipped: [String] = []
    public var outputs: [(path: String, bytes: Int, sha256: String)] = []
}

/// Runs a recipe as a sequence of steps, each with a completion record (see `StepStore`):
///
///   map (per input file k):  ingest → validate → filter   under .trajforge/map/<k>/
///   merge:                   dedup (all partitions, in input order) → split → render per
///                            target and split → pairs → (shard, stats, train configs)
///
/// Partitions are processed independently and merged in input order, so N tasks followed by a
/// merge write exactly what one process writes.
public final class RecipeRunner {
    let recipe: Recipe
    let options: RunOptions
    let root: String
    let store: StepStore
    let reporter: RunReporter
    private(set) var summary = RunSummary()
    /// Ledgers per stage name, merged across partitions, in first-seen order.
    private var stageLedgers: [(String, Ledger)] = []

    public init(recipe: Recipe, options: RunOptions, reporter: RunReporter) {
        self.recipe = recipe
        self.options = options
        self.reporter = reporter
        let out = recipe.output.hasPrefix("/") ? recipe.output : FileManager.default.currentDirectoryPath + "/" + recipe.output
        root = URL(fileURLWithPath: out).standardizedFileURL.path
        store = StepStore(root: root)
    }

    public var outputFolder: String { root }

    // MARK: - steps

    struct Step {
        var id: String
        var title: String
        var stage: String
        var inputs: [String]
        var config: JSON
        var outputs: [String]
        /// How many times the step reads its inputs (for progress estimates).
        var passes = 1
        /// Folders whose files (all but hidden ones) are outputs too (shard sets).
        var outputFolders: [String] = []
        var body: () throws -> [Ledger]
    }

    func fingerprint(_ step: Step) throws(IOError) -> String {
        var h = SHA256()
        h.update(data: Array("trajforge \(TrajForgeVersion.string)\n\(step.id)\n".utf8))
        h.update(data: Array(step.config.canonicalString.utf8))
        for input in step.inputs {
            h.update(data: Array("\ninput \(try store.digest(input))".utf8))
        }
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Runs `step` unless its completion record says it is done; returns its ledgers.
    @discardableResult
    func execute(_ step: Step, number: Int, of total: Int) throws -> [Ledger] {
        let fp = try fingerprint(step)
        if !options.force, let record = store.finished(step.id, fingerprint: fp) {
            summary.skipped.append(step.id)
            reporter.skipped(step.title, number: number, of: total)
            for l in record.ledgers { note(l) }
            return record.ledgers
        }
        store.forget(step.id)
        StepStore.removeStaleTemporaries(beside: step.outputs, named: nil)
        StepStore.removeStaleTemporaries(beside: [store.recordPath(step.id)], named: URL(fileURLWithPath: store.recordPath(step.id)).lastPathComponent)
        for o in step.outputs { try? FileManager.default.removeItem(atPath: o) }
        let bytes = step.inputs.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
        reporter.started(step.title, number: number, of: total, inputBytes: bytes * step.passes)
        let start = Date()
        // Notes name paths inside the output folder relative to it: the folder may move, and N
        // task arrays must write what one process writes.
        let ledgers = try step.body().map { l in
            var l = l
            l.mapNotes { $0.replacingOccurrences(of: root + "/", with: "") }
            return l
        }
        var outputs: [(String, Int, String)] = []
        var produced = step.outputs
        for folder in step.outputFolders { produced += StepStore.visibleFiles(under: folder) }
        for o in produced {
            guard FileManager.default.fileExists(atPath: o) else { throw RunError("step \(step.id) did not write \(o)") }
            let d = try StepStore.hashFile(o)
            store.remember(o, d)
            let size = (try? FileManager.default.attributesOfItem(atPath: o)[.size] as? Int) ?? 0
            outputs.append((store.relative(o), size, d))
        }
        try store.save(StepStore.Record(id: step.id, fingerprint: fp, outputs: outputs, ledgers: ledgers, extra: .null))
        summary.ran.append(step.id)
        for l in ledgers { note(l) }
        reporter.finished(step.title, ledgers: ledgers, seconds: Date().timeIntervalSince(start))
        RunFaults.afterStep(step.id)
        return ledgers
    }

    func note(_ ledger: Ledger) {
        if let i = stageLedgers.firstIndex(where: { $0.0 == ledger.stage }) {
            stageLedgers[i].1.merge(ledger)
        } else {
            stageLedgers.append((ledger.stage, ledger))
        }
    }

    // MARK: - paths

    var work: String { root + "/.trajforge" }
    func partition(_ k: Int) -> String { work + "/map/" + String(format: "%05d", k) }

    /// The last per-partition trajectory file (after ingest, validate, filter as configured).
    func curatedPartition(_ k: Int) -> String {
        partition(k) + (recipe.filter != nil ? "/filtered.jsonl" : recipe.validate != nil ? "/valid.jsonl" : "/trajectories.jsonl")
    }

    /// Trajectories before the filter (pairs need the failed rollouts the filter removes).
    func validatedPartition(_ k: Int) -> String {
        partition(k) + (recipe.validate != nil ? "/valid.jsonl" : "/trajectories.jsonl")
    }

    func open(_ path: String) throws(IOError) -> OutputFile {
        try OutputFile(path: path, compression: OutputCompression(Compression.forOutputPath(path)))
    }

    func section(_ key: String) -> JSON { recipe.sections[key] ?? .null }

    /// The steps a run would take, one line each (`run --check`).
    public func plan() -> [String] {
        var lines: [String] = []
        for k in recipe.inputs.indices { for s in mapSteps(k) { lines.append("\(s.id)  \(s.title)") } }
        for s in mergePlan() { lines.append("\(s.id)  \(s.title)") }
        return lines
    }

    // MARK: - run

    public func run() throws -> RunSummary {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        // Temporary files of a killed run (map tasks may share the folder: they only clean their own).
        if options.phase != .map { StepStore.removeStaleTemporaries(under: root) }
        let partitions = Array(recipe.inputs.indices)
        let mine = partitions.filter { $0 % options.taskCount == options.taskIndex }
        let mapPerPartition = 1 + (recipe.validate != nil ? 1 : 0) + (recipe.filter != nil ? 1 : 0)
        let mergeSteps = mergePlan().count
        let total = (options.phase == .merge ? 0 : mine.count * mapPerPartition) + (options.phase == .map ? 0 : mergeSteps)
        var number = 0

        if options.phase != .merge {
            for k in mine {
                for step in mapSteps(k) {
                    number += 1
                    try execute(step, number: number, of: total)
                }
            }
        }
        if options.phase == .map { return finish(writeLedger: false) }

        // The merge needs every partition's map steps.
        if options.phase == .merge {
            var missing: [Int] = []
            for k in partitions {
                for step in mapSteps(k) where store.finished(step.id, fingerprint: try fingerprint(step)) == nil {
                    missing.append(k)
                    break
                }
            }
            if !missing.isEmpty {
                throw RunError("the merge needs every map task's output; missing partitions: \(missing.map { String($0) }.joined(separator: ", ")) (run those tasks first: trajforge run RECIPE --task-index I --task-count N)")
            }
            for k in partitions { for step in mapSteps(k) { try execute(step, number: 0, of: 0) } }
        }
        for step in mergePlan() {
            number += 1
            try execute(step, number: number, of: total)
        }
        return finish(writeLedger: true)
    }

    func finish(writeLedger: Bool) -> RunSummary {
        RunFaults.beforeLedger()
        summary.ledgers = stageLedgers.map(\.1)
        if writeLedger {
            let path = root + "/ledger.json"
            if let file = try? OutputFile(path: path, compression: OutputCompression(.none)) {
                try? file.write(JSON.array(summary.ledgers.map(\.json)).serializedBytes(.pretty) + [0x0A])
                try? file.commit()
            }
        }
        return summary
    }

    // MARK: - map steps

    func mapSteps(_ k: Int) -> [Step] {
        let input = recipe.inputs[k]
        let dir = partition(k)
        let threads = options.threads
        let limits = ReaderLimits()
        var steps: [Step] = []
        let name = URL(fileURLWithPath: input.path).lastPathComponent
        var ingestConfig: JSONObject = ["format": .string(input.format.rawValue), "domain": input.domain.map(JSON.string) ?? .null]
        ingestConfig["tools"] = input.tools.map { _ in JSON.string("(file digest below)") } ?? .null
        steps.append(Step(id: "map/\(String(format: "%05d", k))/ingest", title: "ingest \(name)", stage: "ingest",
                          inputs: [input.path] + (input.tools.map { [$0] } ?? []), config: .object(ingestConfig),
                          outputs: [dir + "/trajectories.jsonl", dir + "/ingest.rejects.jsonl"]) { [self] in
            var o = IngestOptions()
            o.format = input.format
            o.domain = input.domain
            o.threads = threads
            o.limits = limits
            if let tools = input.tools { o.tools = try loadToolsFile(tools) }
            let out = try open(dir + "/trajectories.jsonl"), rejects = try open(dir + "/ingest.rejects.jsonl")
            let stage = Ingester(options: o)
            try stage.run(inputs: [input.path], output: out, rejects: rejects)
            try out.commit()
            try rejects.commit()
            return [stage.ledger]
        })
        var current = dir + "/trajectories.jsonl"
        if var o = recipe.validate {
            let source = current
            steps.append(Step(id: "map/\(String(format: "%05d", k))/validate", title: "validate \(name)", stage: "validate", inputs: [source],
                              config: section("validate"), outputs: [dir + "/valid.jsonl", dir + "/validate.drops.jsonl", dir + "/validate.rejects.jsonl"]) { [self] in
                o.threads = threads
                let out = try open(dir + "/valid.jsonl"), drops = try open(dir + "/validate.drops.jsonl"), rejects = try open(dir + "/validate.rejects.jsonl")
                let stage = Validator(options: o)
                try stage.run(inputs: [source], output: out, rejects: rejects, drops: drops, report: nil)
                for f in [out, drops, rejects] { try f.commit() }
                return [stage.ledger]
            })
            current = dir + "/valid.jsonl"
        }
        if var o = recipe.filter {
            let source = current
            let tokenizerPath = recipe.filterTokenizer
            steps.append(Step(id: "map/\(String(format: "%05d", k))/filter", title: "filter \(name)", stage: "filter",
                              inputs: [source] + (tokenizerPath.map { [tokenizerFile($0)] } ?? []), config: section("filter"),
                              outputs: [dir + "/filtered.jsonl", dir + "/filter.drops.jsonl", dir + "/filter.rejects.jsonl"]) { [self] in
                o.threads = threads
                if let tokenizerPath { o.tokenizer = try Tokenizer(tokenizerJSONPath: tokenizerPath) }
                let out = try open(dir + "/filtered.jsonl"), drops = try open(dir + "/filter.drops.jsonl"), rejects = try open(dir + "/filter.rejects.jsonl")
                let stage = Filter(options: o)
                try stage.run(inputs: [source], output: out, rejects: rejects, drops: drops)
                for f in [out, drops, rejects] { try f.commit() }
                return [stage.ledger]
            })
        }
        return steps
    }

    /// The files a render target's template reads (a built-in template reads none): the file, or
    /// a model folder's template files (they are fingerprinted as step inputs).
    func templateFiles(_ template: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: template, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [template] }
        return ["chat_template.jinja", "chat_template.json", "tokenizer_config.json"].map { template + "/" + $0 }
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// The tokenizer.json a tokenizer path names (a file or a folder holding one).
    func tokenizerFile(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return path + "/tokenizer.json" }
        return path
    }

    // MARK: - merge steps

    /// Datasets after dedup and split: name → file.
    func datasets() -> [(String, String)] {
        if recipe.split != nil {
            let splits: [SplitName] = recipe.split!.test > 0 ? [.train, .validation, .test] : [.train, .validation]
            return splits.map { ($0.rawValue, root + "/splits/\($0.rawValue).jsonl") }
        }
        return [("all", root + "/trajectories.jsonl")]
    }

    func mergePlan() -> [Step] {
        let partitions = Array(recipe.inputs.indices)
        let threads = options.threads
        var steps: [Step] = []

        // Every partition's rejects and drops, gathered per stage in input order.
        var collected: [String] = []
        var sources: [String] = []
        for (stage, kinds) in [("ingest", ["rejects"]), ("validate", ["drops", "rejects"]), ("filter", ["drops", "rejects"])] {
            if stage == "validate" && recipe.validate == nil { continue }
            if stage == "filter" && recipe.filter == nil { continue }
            for kind in kinds {
                collected.append(root + "/\(kind)/\(stage).\(kind).jsonl")
                sources += partitions.map { partition($0) + "/\(stage).\(kind).jsonl" }
            }
        }
        let outputsForCollect = collected
        steps.append(Step(id: "merge/collect", title: "collect drops and rejects", stage: "collect", inputs: sources, config: .null,
                          outputs: outputsForCollect) { [self] in
            for target in outputsForCollect {
                let name = URL(fileURLWithPath: target).lastPathComponent
                let out = try open(target)
                for k in partitions {
                    let part = partition(k) + "/" + name
                    if let data = FileManager.default.contents(atPath: part), !data.isEmpty { try out.write([UInt8](data)) }
                }
                try out.commit()
            }
            return []
        })

        // Dedup over all partitions in input order, or their concatenation.
        let curated = partitions.map(curatedPartition)
        let unique = recipe.split != nil ? work + "/merge/unique.jsonl" : root + "/trajectories.jsonl"
        if var o = recipe.dedup {
            steps.append(Step(id: "merge/dedup", title: "dedup", stage: "dedup", inputs: curated, config: section("dedup"),
                              outputs: [unique, root + "/drops/dedup.drops.jsonl", root + "/rejects/dedup.rejects.jsonl"], passes: 2) { [self] in
                o.threads = threads
                let out = try open(unique), drops = try open(root + "/drops/dedup.drops.jsonl"), rejects = try open(root + "/rejects/dedup.rejects.jsonl")
                let stage = Deduplicator(options: o)
                try stage.run(inputs: curated, output: out, rejects: rejects, drops: drops)
                for f in [out, drops, rejects] { try f.commit() }
                return [stage.ledger]
            })
        } else {
            steps.append(Step(id: "merge/concatenate", title: "gather partitions", stage: "gather", inputs: curated, config: .null, outputs: [unique]) { [self] in
                let out = try open(unique)
                for c in curated { if let data = FileManager.default.contents(atPath: c), !data.isEmpty { try out.write([UInt8](data)) } }
                try out.commit()
                return []
            })
        }

        if var o = recipe.split {
            let sets = datasets()
            let contamination = recipe.contamination, n = recipe.contaminationNGram
            steps.append(Step(id: "merge/split", title: "split", stage: "split", inputs: [unique] + contamination, config: section("split"),
                              outputs: sets.map(\.1) + [root + "/drops/split.drops.jsonl", root + "/rejects/split.rejects.jsonl"]) { [self] in
                o.threads = threads
                if !contamination.isEmpty { o.contamination = try ContaminationIndex.load(paths: contamination, n: n).0 }
                var lanes: [SplitName: OutputFile] = [:]
                for (name, path) in sets { lanes[SplitName(rawValue: name)!] = try open(path) }
                let drops = try open(root + "/drops/split.drops.jsonl"), rejects = try open(root + "/rejects/split.rejects.jsonl")
                let stage = Splitter(options: o)
                try stage.run(inputs: [unique], outputs: lanes, rejects: rejects, drops: drops)
                for f in Array(lanes.values) + [drops, rejects] { try f.commit() }
                return [stage.ledger]
            })
        }

        for target in recipe.render {
            for (split, source) in datasets() where target.splits.map({ $0.contains { $0.rawValue == split } }) ?? true {
                steps.append(renderStep(target, split: split, source: source))
            }
        }

        if let pairs = recipe.pairs {
            steps += pairsSteps(pairs)
        }
        if let shard = recipe.shard {
            for what in shard.of {
                switch what {
                case .sft:
                    for target in recipe.render {
                        for (split, _) in datasets() where target.splits.map({ $0.contains { $0.rawValue == split } }) ?? true {
                            steps.append(shardStep(shard.options, kind: "sft/\(target.name)", split: split, source: root + "/sft/\(target.name)/\(split).jsonl"))
                        }
                    }
                case .trajectories:
                    for (split, source) in datasets() { steps.append(shardStep(shard.options, kind: "trajectories", split: split, source: source)) }
                case .pairs:
                    for form in recipe.pairs?.outputs ?? [] {
                        steps.append(shardStep(shard.options, kind: "pairs", split: form.rawValue, source: root + "/pairs/\(form.rawValue).jsonl"))
                    }
                }
            }
        }
        if let train = recipe.train {
            steps += trainSteps(train)
        }
        if let stats = recipe.stats {
            steps.append(statsStep(stats))
        }
        return steps
    }

    /// The files a run has written so far that the audit reads: the splits, SFT samples, pairs,
    /// and every drops and rejects file.
    func auditedFiles() -> [String] {
        var files = datasets().map(\.1)
        for target in recipe.render {
            for (split, _) in datasets() where target.splits.map({ $0.contains { $0.rawValue == split } }) ?? true {
                files.append(root + "/sft/\(target.name)/\(split).jsonl")
                files.append(root + "/sft/\(target.name)/\(split).drops.jsonl")
            }
        }
        for form in recipe.pairs?.outputs ?? [] where form != .sharegpt {
            files.append(root + "/pairs/\(form.rawValue).jsonl")
        }
        for form in recipe.pairs?.outputs ?? [] { files.append(root + "/pairs/\(form.rawValue).drops.jsonl") }
        var collected = ["/rejects/ingest.rejects.jsonl"]
        if recipe.validate != nil { collected += ["/drops/validate.drops.jsonl", "/rejects/validate.rejects.jsonl"] }
        if recipe.filter != nil { collected += ["/drops/filter.drops.jsonl", "/rejects/filter.rejects.jsonl"] }
        if recipe.dedup != nil { collected += ["/drops/dedup.drops.jsonl", "/rejects/dedup.rejects.jsonl"] }
        if recipe.split != nil { collected += ["/drops/split.drops.jsonl", "/rejects/split.rejects.jsonl"] }
        return files + collected.map { root + $0 }
    }

    /// stats/: stats.json, report.md and report.html over the run's outputs and its ledgers.
    func statsStep(_ st: Recipe.StatsSection) -> Step {
        let folder = root + "/stats"
        let files = auditedFiles()
        let ledgers = work + "/merge/ledgers.jsonl"
        var inputs = files + st.contamination
        if let t = st.tokenizer { inputs.append(tokenizerFile(t)) }
        let threads = options.threads
        return Step(id: "merge/stats", title: "stats", stage: "stats", inputs: inputs, config: section("stats"),
                    outputs: [folder + "/" + StatsOutput.jsonName, folder + "/" + StatsOutput.markdownName, folder + "/" + StatsOutput.htmlName,
                              folder + "/stats.rejects.jsonl"]) { [self] in
            // The funnel reads the stages' ledgers: the ones this run holds so far, one per line.
            let ledgerFile = try open(ledgers)
            for (_, l) in stageLedgers { try ledgerFile.write(l.json.serializedBytes() + [0x0A]) }
            try ledgerFile.commit()
            var o = StatsOptions()
            o.threads = threads
            o.cutoff = st.cutoff
            o.topClusters = st.top
            o.title = st.title ?? recipe.name
            o.contaminationThreshold = st.threshold
            if let t = st.tokenizer {
                o.tokenizer = try Tokenizer(tokenizerJSONPath: t)
                o.tokenizerName = store.relative(t)
            }
            if !st.contamination.isEmpty {
                o.contamination = try ContaminationIndex.load(paths: st.contamination, n: st.ngram).0
                o.contaminationFiles = st.contamination
            }
            let rejects = try open(folder + "/stats.rejects.jsonl")
            let collector = StatsCollector(options: o)
            try collector.run(inputs: [ledgers] + files.filter { FileManager.default.fileExists(atPath: $0) }, rejects: rejects)
            // Paths inside the output folder are written relative to it (the folder may move).
            let report = Filter.mapStrings(collector.report) { $0.replacingOccurrences(of: root + "/", with: "") }
            for f in try StatsOutput.files(report, folder: folder) { try f.commit() }
            try rejects.commit()
            return [collector.ledger]
        }
    }

    /// train/: the data files the configs read (data/) and the configs for every size, stage and
    /// framework (configs/), planned with the token counts of the target's tokenized train split.
    func trainSteps(_ tr: Recipe.TrainSection) -> [Step] {
        var steps: [Step] = []
        let threads = options.threads
        let dataDir = root + "/train/data"
        let trainSplit = datasets().first { $0.0 == "train" } ?? datasets()[0]
        let target = tr.target.flatMap { name in recipe.render.first { $0.name == name } }
        let pool = work + "/merge/pairs-pool.jsonl"
        for name in tr.dataFiles {
            let out = dataDir + "/" + name
            let stage = name.components(separatedBy: ".")[0]
            let form = name.components(separatedBy: ".")[1]
            if stage == "sft", let target {
                var inputs = [trainSplit.1]
                inputs += templateFiles(target.template)
                var config = recipe.sections["render"]?.array?.first { $0["name"]?.string == target.name } ?? .null
                config = ["target": config, "file": .string(name)]
                steps.append(Step(id: "merge/train/data/\(name)", title: "train data \(name)", stage: "train-data:\(name)", inputs: inputs,
                                  config: config, outputs: [out, dataDir + "/" + name.replacingOccurrences(of: ".jsonl", with: ".drops.jsonl")]) { [self] in
                    let chat = try ChatTemplate.load(target.template, variant: target.templateVariant, toolForm: target.toolForm)
                        .overridingSpecialTokens(from: target.options.variables)
                    var o = target.options
                    o.threads = threads
                    o.tokenization = nil
                    o.output = form == "sharegpt" ? .sharegpt : .trl
                    if form == "messages" {
                        // axolotl: one sample per trajectory, every reply supervised, arguments as text.
                        o.mode = .allTurns
                        o.arguments = .string
                    }
                    let output = try open(out), drops = try open(dataDir + "/" + name.replacingOccurrences(of: ".jsonl", with: ".drops.jsonl"))
                    let stage = SFTRenderer(template: chat, options: o)
                    try stage.run(inputs: [trainSplit.1], output: output, rejects: nil, drops: drops, trace: nil)
                    for f in [output, drops] { try f.commit() }
                    var ledger = stage.ledger
                    ledger.stage = "train-data:\(name)"
                    return [ledger]
                })
            } else if let pairs = recipe.pairs {
                steps.append(Step(id: "merge/train/data/\(name)", title: "train data \(name)", stage: "train-data:\(name)", inputs: [pool],
                                  config: ["pairs": section("pairs"), "file": .string(name)], outputs: [out, dataDir + "/" + name.replacingOccurrences(of: ".jsonl", with: ".drops.jsonl")]) { [self] in
                    var o = pairs.options
                    o.threads = threads
                    if stage == "kto" {
                        o.strategy = .kto
                        o.output = .trlKTO
                    } else {
                        if o.strategy == .kto { o.strategy = .correction }
                        o.output = form == "sharegpt" ? .sharegpt : .trlDPO
                    }
                    let output = try open(out), drops = try open(dataDir + "/" + name.replacingOccurrences(of: ".jsonl", with: ".drops.jsonl"))
                    let builder = PairBuilder(options: o)
                    try builder.run(inputs: [pool], output: output, rejects: nil, drops: drops)
                    for f in [output, drops] { try f.commit() }
                    var ledger = builder.ledger
                    ledger.stage = "train-data:\(name)"
                    return [ledger]
                })
            }
        }

        // Token counts for the plan: per size, the tokenized train split of the render target with
        // that size's template (else `target`) for SFT; the rendered pairs for DPO/KTO.
        var sftCensus: [String: String] = [:]
        for size in tr.sizes {
            guard let model = ModelCatalog.builtin.model(size: size) else { continue }
            let t = recipe.render.first { $0.template == model.template && $0.tokenizer != nil } ?? target
            if let t, t.tokenizer != nil, t.splits.map({ $0.contains { $0.rawValue == trainSplit.0 } }) ?? true {
                sftCensus[size] = root + "/sft/\(t.name)/\(trainSplit.0).jsonl"
            }
        }
        var pairsCensus: String?
        if let p = recipe.pairs, p.outputs.contains(.rendered), let t = p.target, recipe.render.first(where: { $0.name == t })?.tokenizer != nil {
            pairsCensus = root + "/pairs/rendered.jsonl"
        }
        let dataFiles = tr.dataFiles.map { dataDir + "/" + $0 }
        let configsDir = root + "/train/configs"
        let inputs = dataFiles + Array(Set(sftCensus.values)).sorted() + [pairsCensus].compactMap { $0 }
        steps.append(Step(id: "merge/train/configs", title: "train configs", stage: "train", inputs: inputs, config: section("train"),
                          outputs: [], outputFolders: [configsDir]) { [self] in
            var ledger = Ledger(stage: "train")
            let catalog = ModelCatalog.builtin
            guard let spec = catalog.gpu(named: tr.gpu ?? XLAM2Recipe.gpu.value) else { throw RunError("train: unknown GPU") }
            let gpu = Sourced(spec, tr.gpu == nil ? XLAM2Recipe.gpu.origin : .user("recipe train.gpu"))
            var sft: [String: TokenCensus] = [:]
            for path in Set(sftCensus.values).sorted() { sft[path] = try TokenCensus.read([path], threads: threads) }
            let pref = try pairsCensus.map { try TokenCensus.read([$0], threads: threads) }
            var options = ConfigOptions(workdir: root)
            options.outputDir = "train/configs"
            options.dataDir = "train/data"
            options.runRoot = "train/saves"
            options.learningRate = tr.learningRate
            options.slurmPartition = tr.slurmPartition
            options.slurmAccount = tr.slurmAccount
            options.commandLine = "trajforge run \(URL(fileURLWithPath: recipe.file).lastPathComponent) (train section)"
            try? FileManager.default.removeItem(atPath: configsDir)
            var refusals: [String] = []
            var written = Set<String>()
            for size in tr.sizes {
                guard var model = catalog.model(size: size) else { continue }
                if let base = tr.bases[size] {
                    model.base = base
                    model.baseEvidence = "user: recipe train.bases (same architecture as \(model.name)'s catalog base assumed)"
                }
                for stage in tr.stages {
                    var r = PlanRequest(model: model, gpu: gpu)
                    r.stage = stage
                    if let m = tr.method { r.method = Sourced(m, .user("recipe train.method")) }
                    if let n = tr.nodes { r.nodes = Sourced(n, .user("recipe train.nodes")) }
                    if let n = tr.maxNodes { r.maxNodes = n }
                    if let n = tr.sequenceLength { r.sequenceLength = Sourced(n, .user("recipe train.seq_len")) }
                    if let n = tr.globalBatch { r.globalBatch = Sourced(n, .user("recipe train.global_batch")) }
                    if let n = tr.microBatch { r.microBatch = Sourced(n, .user("recipe train.micro_batch")) }
                    if let e = tr.epochs { r.epochs = Sourced(e, .user("recipe train.epochs")) } else if stage != .sft { r.epochs = XLAM2Recipe.preferenceEpochs }
                    r.census = stage == .sft ? sftCensus[size].flatMap { sft[$0] } : pref
                    let plan: TrainingPlan
                    do throws(PlanRefusal) { plan = try Planner.plan(r) } catch {
                        refusals.append("\(model.name) \(stage.rawValue): \(error.reason)")
                        continue
                    }
                    ledger.note("\(model.name) \(stage.rawValue): \(plan.nodes) node(s) x \(plan.request.gpusPerNode.value) \(plan.request.gpu.value.name), \(plan.zero), micro \(plan.microBatch) x accumulation \(plan.gradientAccumulation) = \(plan.globalBatch)")
                    for fw in tr.frameworks {
                        do {
                            for f in try ConfigEmitter(plan: plan, framework: fw, options: options).files() where !written.contains(f.path) {
                                written.insert(f.path)
                                let file = try open(root + "/" + f.path)
                                try file.write(Array(f.contents.utf8))
                                try file.commit()
                                if f.executable { chmod(root + "/" + f.path, 0o755) }
                                ledger.output += 1
                            }
                        } catch let e as PlanRefusal {
                            refusals.append("\(model.name) \(stage.rawValue) \(fw.rawValue): \(e.reason)")
                        }
                    }
                }
            }
            if !refusals.isEmpty { throw RunError("train: the planner refused: " + refusals.joined(separator: "; ")) }
            ledger.note("\(ledger.output) config files in train/configs/")
            return [ledger]
        })
        return steps
    }

    /// A shard set under shards/<kind>/<split>/ (the writer's own journal resumes a killed step).
    func shardStep(_ base: ShardOptions, kind: String, split: String, source: String) -> Step {
        let folder = root + "/shards/\(kind)/\(split)"
        let threads = options.threads
        let rejectsPath = root + "/rejects/shard." + kind.replacingOccurrences(of: "/", with: ".") + ".\(split).rejects.jsonl"
        return Step(id: "merge/shard/\(kind)/\(split)", title: "shard \(kind) \(split)", stage: "shard", inputs: [source],
                    config: ["shard": section("shard"), "kind": .string(kind), "split": .string(split)], outputs: [rejectsPath],
                    outputFolders: [folder]) { [self] in
            var o = base
            o.split = split.replacingOccurrences(of: "/", with: "-")
            o.threads = threads
            o.inputLabels = [store.relative(source)]
            let partial = folder + "/" + ShardWriter.partialFolderName
            o.resume = FileManager.default.fileExists(atPath: partial)
            o.overwrite = !o.resume
            var rejects = try open(rejectsPath)
            var writer = ShardWriter(options: o, folder: folder)
            do {
                _ = try writer.run(inputs: [source], rejects: rejects)
            } catch is ShardOptionError where o.resume {
                // The unfinished set was made with other settings or inputs: start it over.
                rejects.abort()
                o.resume = false
                o.overwrite = true
                rejects = try open(rejectsPath)
                writer = ShardWriter(options: o, folder: folder)
                _ = try writer.run(inputs: [source], rejects: rejects)
            }
            try rejects.commit()
            return [writer.ledger]
        }
    }

    func renderStep(_ target: Recipe.RenderTarget, split: String, source: String) -> Step {
        let dir = root + "/sft/" + target.name
        let out = dir + "/\(split).jsonl"
        let threads = options.threads
        var config = recipe.sections["render"]?.array?.first { $0["name"]?.string == target.name } ?? .null
        if case .object(var o) = config {
            o["split"] = .string(split)
            config = .object(o)
        }
        var inputs = [source]
        if let t = target.tokenizer { inputs.append(tokenizerFile(t)) }
        inputs += templateFiles(target.template)
        return Step(id: "merge/render/\(target.name)/\(split)", title: "render \(target.name) \(split)", stage: "render:\(target.name)", inputs: inputs,
                    config: config, outputs: [out, dir + "/\(split).drops.jsonl", dir + "/\(split).rejects.jsonl"]) { [self] in
            let chat = try ChatTemplate.load(target.template, variant: target.templateVariant, toolForm: target.toolForm)
                .overridingSpecialTokens(from: target.options.variables)
            var o = target.options
            o.threads = threads
            if let t = target.tokenizer {
                var tok = TokenizationOptions(tokenizer: try Tokenizer(tokenizerJSONPath: t), endOfTurn: chat.endOfTurn)
                tok.maxTokens = target.maxTokens
                tok.truncation = target.truncation
                tok.labels = target.labels
                o.tokenization = tok
            }
            let output = try open(out), drops = try open(dir + "/\(split).drops.jsonl"), rejects = try open(dir + "/\(split).rejects.jsonl")
            let stage = SFTRenderer(template: chat, options: o)
            try stage.run(inputs: [source], output: output, rejects: rejects, drops: drops, trace: nil)
            for f in [output, drops, rejects] { try f.commit() }
            var ledger = stage.ledger
            ledger.stage = "render:\(target.name)"
            return [ledger]
        }
    }

    func pairsSteps(_ pairs: Recipe.PairsSection) -> [Step] {
        let partitions = Array(recipe.inputs.indices)
        let threads = options.threads
        var steps: [Step] = []
        // Pairs come from validated rollouts (the filter drops the failed ones), restricted to
        // the train split's tasks so no task leaks into evaluation.
        let pool = work + "/merge/pairs-pool.jsonl"
        let validated = partitions.map(validatedPartition)
        let split = recipe.split
        steps.append(Step(id: "merge/pairs-pool", title: "pairs pool (train tasks)", stage: "pairs-pool", inputs: validated,
                          config: ["split": section("split")], outputs: [pool]) { [self] in
            let out = try open(pool)
            var ledger = Ledger(stage: "pairs-pool")
            try TrajectoryStage.run(inputs: validated, stage: "pairs-pool", threads: threads, limits: ReaderLimits(), ledger: &ledger,
                                    output: out, rejects: nil, drops: nil) { t, o in
                if let split, Splitter.assign(Splitter.groupKey(t), seed: split.seed, validation: split.validation, test: split.test) != .train {
                    o.drop(Drop(id: t.id, stage: "pairs-pool", reason: "not-train-task", detail: "its task is in another split"))
                } else {
                    o.keep(t)
                }
            }
            try out.commit()
            return [ledger]
        })
        for form in pairs.outputs {
            let out = root + "/pairs/\(form.rawValue).jsonl"
            var inputs = [pool]
            let target = pairs.target.flatMap { name in recipe.render.first { $0.name == name } }
            if form == .rendered, let target {
                if let t = target.tokenizer { inputs.append(tokenizerFile(t)) }
                inputs += templateFiles(target.template)
            }
            steps.append(Step(id: "merge/pairs/\(form.rawValue)", title: "pairs \(form.rawValue)", stage: "pairs:\(form.rawValue)", inputs: inputs,
                              config: ["pairs": section("pairs"), "form": .string(form.rawValue),
                                       "target": recipe.sections["render"]?.array?.first { $0["name"]?.string == pairs.target } ?? .null],
                              outputs: [out, root + "/pairs/\(form.rawValue).drops.jsonl"]) { [self] in
                var o = pairs.options
                o.output = form
                o.threads = threads
                if form == .rendered, let target {
                    let chat = try ChatTemplate.load(target.template, variant: target.templateVariant, toolForm: o.toolForm ?? target.toolForm)
                        .overridingSpecialTokens(from: target.options.variables)
                    o.template = chat
                    o.variables = target.options.variables
                    o.date = target.options.date
                    if let t = target.tokenizer { o.tokenization = TokenizationOptions(tokenizer: try Tokenizer(tokenizerJSONPath: t), endOfTurn: chat.endOfTurn) }
                }
                let output = try open(out), drops = try open(root + "/pairs/\(form.rawValue).drops.jsonl")
                let stage = PairBuilder(options: o)
                try stage.run(inputs: [pool], output: output, rejects: nil, drops: drops)
                for f in [output, drops] { try f.commit() }
                var ledger = stage.ledger
                ledger.stage = "pairs:\(form.rawValue)"
                for line in stage.statistics.summary { ledger.note(line) }
                return [ledger]
            })
        }
        return steps
    }
}

public struct RunError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// Test hooks: `TRAJFORGE_KILL_AFTER_STEP=<n>` makes the process SIGKILL itself after its n-th
/// finished step (resume tests).
enum RunFaults {
    nonisolated(unsafe) static var finished = 0
    static let killAfter: Int? = ProcessInfo.processInfo.environment["TRAJFORGE_KILL_AFTER_STEP"].flatMap(Int.init)

    /// `TRAJFORGE_KILL_BEFORE_LEDGER=1`: die after the last step, before ledger.json.
    static func beforeLedger() {
        if ProcessInfo.processInfo.environment["TRAJFORGE_KILL_BEFORE_LEDGER"] == "1" { kill(getpid(), SIGKILL) }
    }

    static func afterStep(_ id: String) {
        finished += 1
        if let k = killAfter, finished >= k { kill(getpid(), SIGKILL) }
    }
}
