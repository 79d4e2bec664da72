import ByteJSON
import Foundation
import Yams

/// A recipe: the whole flow from rollouts to training data, as one YAML file
/// (schemas/recipe.schema.json). Relative input paths are resolved against the recipe's folder;
/// the output folder against the current directory.
public struct Recipe: Sendable {
    public struct Input: Sendable {
        /// The file (a glob in the recipe expands to several inputs, in name order).
        public var path: String
        public var format: SourceFormat = .auto
        public var tools: String?
        public var domain: String?
    }

    /// An SFT target: a chat template (and tokenizer) for one model size.
    public struct RenderTarget: Sendable {
        public var name: String
        public var template: String
        public var templateVariant: String?
        public var toolForm: ToolForm?
        public var tokenizer: String?
        public var options = SFTRenderOptions()
        public var maxTokens: Int?
        public var truncation: Truncation = .drop
        public var labels: LabelForm = .labels
        /// Splits rendered (default: every split the split step writes).
        public var splits: [SplitName]?
    }

    public struct PairsSection: Sendable {
        public var options = PairOptions()
        /// Output forms; `rendered` renders with `target`'s template and tokenizer.
        public var outputs: [PairOutput] = [.trlDPO]
        public var target: String?
    }

    /// Shard sets of the outputs: SFT samples, trajectories (the splits) and/or pairs.
    public struct ShardSection: Sendable {
        public enum Dataset: String, Sendable, CaseIterable { case sft, trajectories, pairs }
        public var options = ShardOptions()
        public var of: [Dataset] = []
    }

    /// The audit report of the run's outputs (stats/).
    public struct StatsSection: Sendable {
        /// Measures records without token ids (a path, or a render target's tokenizer via `target`).
        public var tokenizer: String?
        public var cutoff: Int?
        public var contamination: [String] = []
        public var ngram = 8
        public var threshold = 0.5
        public var top = 20
        public var title: String?
    }

    /// Fine-tuning configs for xLAM-2 sizes, with the data files they read (train/).
    public struct TrainSection: Sendable {
        public var sizes: [String] = ModelCatalog.builtin.sizes
        public var stages: [TrainStage] = [.sft]
        public var frameworks: [TrainFramework] = TrainFramework.allCases
        /// The render target whose template writes the SFT data files and whose tokenized train
        /// split gives the token counts (steps, time).
        public var target: String?
        public var gpu: String?
        public var bases: [String: String] = [:]
        public var nodes: Int?
        public var maxNodes: Int?
        public var sequenceLength: Int?
        public var globalBatch: Int?
        public var microBatch: Int?
        public var epochs: Double?
        public var learningRate: Double?
        public var method: FineTuneMethod?
        public var slurmPartition: String?
        public var slurmAccount: String?

        /// The data files the chosen frameworks and stages read, in a fixed order.
        public var dataFiles: [String] {
            var names: [String] = []
            for stage in stages {
                for fw in frameworks {
                    let n = ConfigEmitter.dataFile(fw, stage)
                    if !names.contains(n) { names.append(n) }
                }
            }
            return names
        }
    }

    public var name: String
    public var file: String
    public var directory: String
    public var description: String?
    public var output: String
    public var threads: Int?
    public var inputs: [Input] = []
    public var validate: ValidateOptions?
    public var filter: FilterOptions?
    public var filterTokenizer: String?
    public var dedup: DedupOptions?
    public var split: SplitOptions?
    public var contamination: [String] = []
    public var contaminationNGram = 8
    public var render: [RenderTarget] = []
    public var pairs: PairsSection?
    public var shard: ShardSection?
    public var stats: StatsSection?
    public var train: TrainSection?
    /// Each section's resolved settings, for the steps' fingerprints.
    public var sections: [String: JSON] = [:]

    public static let topLevelKeys = ["name", "description", "output", "threads", "inputs", "validate", "filter", "dedup", "split",
                                      "render", "pairs", "shard", "stats", "train"]

    /// Reads and checks a recipe file. `variables` fill `${NAME}` references before the environment.
    public static func load(_ path: String, variables: [String: String] = [:], output: String? = nil) throws(RecipeError) -> Recipe {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RecipeError(file: path, line: 0, column: 0, message: "cannot read the recipe: \(error.localizedDescription)")
        }
        return try parse(text, file: path, variables: variables, output: output)
    }

    public static func parse(_ text: String, file: String, variables: [String: String] = [:], output: String? = nil) throws(RecipeError) -> Recipe {
        let root = try YAMLMapping(try composeRecipe(text, file: file), path: "", file: file, variables: variables)
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        let name = try root.requiredString("name")
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw root.error("name", "use letters, digits, - _ . only (it names the output folder)")
        }
        var r = Recipe(name: name, file: file, directory: directory, output: output ?? "trajforge-out/" + name)
        r.description = try root.string("description")
        if output == nil, let o = try root.string("output") { r.output = o }
        r.threads = try root.int("threads", min: 1, max: 1024)
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : directory + "/" + p }

        // Inputs.
        guard let inputs = try root.mappings("inputs"), !inputs.isEmpty else {
            throw RecipeError(file: file, line: root.mark?.line ?? 0, column: 0, message: "inputs is required: a list of {path, format, tools, domain}")
        }
        for m in inputs {
            let pattern = try m.requiredString("path")
            let format = try m.choice("format", SourceFormat.allCases.map(\.rawValue)).flatMap(SourceFormat.init(rawValue:)) ?? .auto
            let tools = try m.string("tools").map(resolve)
            let domain = try m.string("domain")
            try m.finish(allowed: ["path", "format", "tools", "domain"])
            let paths = expandGlob(resolve(pattern))
            if paths.isEmpty {
                throw m.error("path", "no file matches \(resolve(pattern))" + (pattern.hasPrefix("/") ? "" : " (relative paths, --var values included, are resolved against the recipe's folder)"))
            }
            for p in paths { r.inputs.append(Input(path: p, format: format, tools: tools, domain: domain)) }
        }

        if let m = try root.mapping("validate") {
            var o = ValidateOptions()
            if let mode = try m.choice("mode", ValidateOptions.Mode.allCases.map(\.rawValue)) { o.mode = ValidateOptions.Mode(rawValue: mode)! }
            o.ignore = Set(try m.strings("ignore") ?? [])
            for code in o.ignore where !TrajectoryValidator.reasons.contains(where: { $0.code == code }) {
                throw m.error("ignore", "unknown reason \(code)")
            }
            try m.finish(allowed: ["mode", "ignore"])
            r.validate = o
        }

        if let m = try root.mapping("filter") {
            var o = FilterOptions()
            if let v = try m.string("verified_only") {
                guard let by = VerifiedBy(parsing: v) else { throw m.error("verified_only", "takes success, reward>=X or check:PATH (got \(v))") }
                o.verified = by
            }
            func range(_ key: String) throws(RecipeError) -> CountRange? {
                guard let sub = try m.mapping(key) else { return nil }
                let range = CountRange(min: try sub.int("min", min: 0), max: try sub.int("max", min: 0))
                try sub.finish(allowed: ["min", "max"])
                return range
            }
            o.turns = try range("turns")
            o.toolCalls = try range("tool_calls")
            o.characters = try range("characters")
            o.tokens = try range("tokens")
            r.filterTokenizer = try m.string("tokenizer").map(resolve)
            if o.tokens != nil && r.filterTokenizer == nil { throw m.error("tokens", "needs filter.tokenizer") }
            o.domains = try m.strings("domains").map(Set.init)
            o.excludeDomains = Set(try m.strings("exclude_domains") ?? [])
            o.allowTools = try m.strings("allow_tools").map(Set.init)
            o.denyTools = Set(try m.strings("deny_tools") ?? [])
            o.maxToolErrors = try m.int("max_tool_errors", min: 0)
            o.dropEmptyTurns = try m.bool("drop_empty_turns") ?? false
            let actions = SensitiveAction.allCases.map(\.rawValue)
            if let s = try m.choice("secrets", actions) { o.secrets = SensitiveAction(rawValue: s)! }
            if let s = try m.choice("personal", actions) { o.personal = SensitiveAction(rawValue: s)! }
            if let kinds = try m.strings("personal_kinds") {
                o.personalKinds = []
                for k in kinds {
                    guard ["email", "phone", "card"].contains(k), let kind = SensitiveKind(rawValue: k) else {
                        throw m.error("personal_kinds", "unknown kind \(k) (email, phone, card)")
                    }
                    o.personalKinds.insert(kind)
                }
            }
            try m.finish(allowed: ["verified_only", "turns", "tool_calls", "characters", "tokens", "tokenizer", "domains", "exclude_domains",
                                   "allow_tools", "deny_tools", "max_tool_errors", "drop_empty_turns", "secrets", "personal", "personal_kinds"])
            r.filter = o
        }

        if let m = try root.mapping("dedup") {
            var o = DedupOptions()
            o.exact = try m.bool("exact") ?? o.exact
            o.near = try m.bool("near") ?? o.near
            o.ngram = try m.int("ngram", min: 1, max: 64) ?? o.ngram
            o.bands = try m.int("bands", min: 1, max: 256) ?? o.bands
            o.rows = try m.int("rows", min: 1, max: 64) ?? o.rows
            o.seed = UInt64(try m.int("seed", min: 0) ?? Int(o.seed))
            o.threshold = try m.double("threshold", min: 0, max: 1) ?? o.threshold
            o.shingleObservations = try m.bool("shingle_observations") ?? o.shingleObservations
            o.maxPerTask = try m.int("max_per_task", min: 1)
            try m.finish(allowed: ["exact", "near", "ngram", "bands", "rows", "seed", "threshold", "shingle_observations", "max_per_task"])
            r.dedup = o
        }

        if let m = try root.mapping("split") {
            var o = SplitOptions()
            o.validation = try m.double("validation", min: 0, max: 1) ?? o.validation
            o.test = try m.double("test", min: 0, max: 1) ?? o.test
            if o.validation + o.test > 1 { throw m.error("test", "validation + test must not exceed 1") }
            o.seed = UInt64(try m.int("seed", min: 0) ?? 0)
            r.contamination = (try m.strings("contamination") ?? []).map(resolve)
            r.contaminationNGram = try m.int("contamination_ngram", min: 1, max: 64) ?? r.contaminationNGram
            o.contaminationThreshold = try m.double("contamination_threshold", min: 0, max: 1) ?? o.contaminationThreshold
            try m.finish(allowed: ["validation", "test", "seed", "contamination", "contamination_ngram", "contamination_threshold"])
            r.split = o
        }

        for m in try root.mappings("render") ?? [] {
            let name = try m.requiredString("name")
            if r.render.contains(where: { $0.name == name }) { throw m.error("name", "two render targets are named \(name)") }
            let template = try m.requiredString("template")
            var t = RenderTarget(name: name, template: BuiltinTemplate.named(template) != nil ? template : resolve(template))
            t.templateVariant = try m.string("template_variant")
            t.toolForm = try m.choice("tool_form", ToolForm.allCases.map(\.rawValue)).flatMap(ToolForm.init(rawValue:))
            t.tokenizer = try m.string("tokenizer").map(resolve)
            if let mode = try m.choice("mode", RenderMode.allCases.map(\.rawValue)) { t.options.mode = RenderMode(rawValue: mode)! }
            if let a = try m.choice("arguments", ArgumentsForm.allCases.map(\.rawValue)) { t.options.arguments = ArgumentsForm(rawValue: a)! }
            if let d = try m.string("date") {
                let parts = d.split(separator: "-").compactMap { Int($0) }
                guard parts.count == 3 else { throw m.error("date", "takes YYYY-MM-DD (got \(d))") }
                t.options.date = .init(year: parts[0], month: parts[1], day: parts[2])
            }
            for (k, v) in try m.stringMap("variables") ?? [] { t.options.variables[k] = (try? JSON.parse(v)) ?? .string(v) }
            t.maxTokens = try m.int("max_tokens", min: 1)
            if let tr = try m.choice("truncate", Truncation.allCases.map(\.rawValue)) { t.truncation = Truncation(rawValue: tr)! }
            if let l = try m.choice("labels", ["labels", "assistant-masks"]) { t.labels = l == "labels" ? .labels : .masks }
            t.options.allowMissingEndOfTurn = try m.bool("allow_missing_end_of_turn") ?? false
            if let splits = try m.strings("splits") {
                t.splits = []
                for s in splits {
                    guard let name = SplitName(rawValue: s) else { throw m.error("splits", "unknown split \(s) (train, validation, test)") }
                    t.splits!.append(name)
                }
            }
            if t.tokenizer == nil && (t.maxTokens != nil) { throw m.error("max_tokens", "needs a tokenizer") }
            try m.finish(allowed: ["name", "template", "template_variant", "tool_form", "tokenizer", "mode", "arguments", "date", "variables",
                                   "max_tokens", "truncate", "labels", "allow_missing_end_of_turn", "splits"])
            r.render.append(t)
        }

        if let m = try root.mapping("pairs") {
            var p = PairsSection()
            if let s = try m.choice("strategy", PairStrategy.allCases.map(\.rawValue)) { p.options.strategy = PairStrategy(rawValue: s)! }
            if let outs = try m.strings("outputs") {
                p.outputs = []
                for o in outs {
                    guard let form = PairOutput(rawValue: o) else { throw m.error("outputs", "unknown output \(o) (\(PairOutput.allCases.map(\.rawValue).joined(separator: ", ")))") }
                    p.outputs.append(form)
                }
            } else if p.options.strategy == .kto {
                p.outputs = [.trlKTO]
            }
            if let g = try m.choice("group_by", PairGrouping.allCases.map(\.rawValue)) { p.options.grouping = PairGrouping(rawValue: g)! }
            if let a = try m.choice("arguments", ArgumentsForm.allCases.map(\.rawValue)) { p.options.arguments = ArgumentsForm(rawValue: a)! }
            p.options.toolForm = try m.choice("tool_form", ToolForm.allCases.map(\.rawValue)).flatMap(ToolForm.init(rawValue:))
            if let w = try m.strings("write_tools") { p.options.kinds.writes = Set(w) }
            p.options.kinds.reads = Set(try m.strings("read_tools") ?? [])
            p.options.maxPerTask = try m.int("max_pairs_per_task", min: 1)
            p.options.maxPerRollout = try m.int("max_pairs_per_rollout", min: 1) ?? 1
            p.options.seed = UInt64(try m.int("seed", min: 0) ?? 0)
            p.target = try m.string("target")
            if p.outputs.contains(.rendered) {
                guard let target = p.target else { throw m.error("outputs", "rendered pairs need pairs.target (a render target's name)") }
                guard r.render.contains(where: { $0.name == target }) else { throw m.error("target", "no render target is named \(target)") }
            }
            try m.finish(allowed: ["strategy", "outputs", "group_by", "arguments", "tool_form", "write_tools", "read_tools",
                                   "max_pairs_per_task", "max_pairs_per_rollout", "seed", "target"])
            r.pairs = p
        }

        if let m = try root.mapping("shard") {
            var sh = ShardSection()
            var o = ShardOptions()
            if let f = try m.choice("format", ShardFormat.allCases.map(\.rawValue)) { o.format = ShardFormat(rawValue: f)! }
            o.codec = try m.choice("codec", ShardCodec.allCases.map(\.rawValue)).flatMap(ShardCodec.init(rawValue:))
            o.level = try m.int("level", min: 0, max: 22)
            if let n = m.node("max_shard_bytes") {
                let text = try m.scalarString(n, m.key("max_shard_bytes"))
                guard let bytes = parseByteSize(text) else { throw m.error("max_shard_bytes", "takes a size such as 67108864, 64MiB or 100MB (got \(text))") }
                o.maxShardBytes = bytes
            }
            o.maxShardRecords = try m.int("max_shard_records", min: 1)
            o.shuffle = try m.bool("shuffle") ?? false
            o.seed = UInt64(try m.int("seed", min: 0) ?? 0)
            o.keyField = try m.string("key_field")
            do {
                o.members = try (try m.strings("members") ?? []).map { (t) throws(ShardOptionError) in try WebDatasetMember.parse(t) }
                o.columns = try (try m.strings("columns")).map { try $0.map { (t) throws(ShardOptionError) in try MDSColumn.parse(t) } }
                if let hashes = try m.strings("mds_hashes") { o.mdsHashes = hashes }
                try o.validate()
            } catch let e as ShardOptionError {
                throw RecipeError(file: file, line: m.mark?.line ?? 0, column: m.mark?.column ?? 0,
                                  message: "shard: " + e.message.replacingOccurrences(of: "--", with: "").replacingOccurrences(of: "-", with: "_"))
            } catch let e as RecipeError {
                throw e
            } catch {
                throw RecipeError(file: file, line: m.mark?.line ?? 0, column: 0, message: "shard: \(error)")
            }
            if let of = try m.strings("of") {
                for d in of {
                    guard let ds = ShardSection.Dataset(rawValue: d) else { throw m.error("of", "unknown dataset \(d) (sft, trajectories, pairs)") }
                    sh.of.append(ds)
                }
            } else {
                sh.of = r.render.isEmpty ? [.trajectories] : [.sft]
            }
            if sh.of.contains(.sft) && r.render.isEmpty { throw m.error("of", "sft shards need render targets") }
            if sh.of.contains(.pairs) && r.pairs == nil { throw m.error("of", "pairs shards need a pairs section") }
            try m.finish(allowed: ["format", "codec", "level", "max_shard_bytes", "max_shard_records", "shuffle", "seed", "key_field",
                                   "members", "columns", "mds_hashes", "of"])
            sh.options = o
            r.shard = sh
        }

        if let m = try root.mapping("stats") {
            var st = StatsSection()
            if let target = try m.string("target") {
                guard let t = r.render.first(where: { $0.name == target }) else { throw m.error("target", "no render target is named \(target)") }
                guard let tok = t.tokenizer else { throw m.error("target", "render target \(target) has no tokenizer") }
                st.tokenizer = tok
            }
            if let tok = try m.string("tokenizer") {
                if st.tokenizer != nil { throw m.error("tokenizer", "give tokenizer or target, not both") }
                st.tokenizer = resolve(tok)
            }
            st.cutoff = try m.int("cutoff", min: 1)
            st.contamination = (try m.strings("contamination") ?? []).map(resolve)
            st.ngram = try m.int("ngram", min: 1, max: 64) ?? st.ngram
            st.threshold = try m.double("threshold", min: 0, max: 1) ?? st.threshold
            st.top = try m.int("top", min: 0) ?? st.top
            st.title = try m.string("title")
            try m.finish(allowed: ["target", "tokenizer", "cutoff", "contamination", "ngram", "threshold", "top", "title"])
            r.stats = st
        }

        if let m = try root.mapping("train") {
            var tr = TrainSection()
            let catalog = ModelCatalog.builtin
            if let sizes = try m.strings("sizes") {
                tr.sizes = []
                for size in sizes {
                    if size == "all" { tr.sizes = catalog.sizes; break }
                    guard catalog.model(size: size) != nil else { throw m.error("sizes", "unknown size \(size) (\(catalog.sizes.joined(separator: ", ")) or all)") }
                    tr.sizes.append(size.lowercased())
                }
            }
            if let stages = try m.strings("stages") {
                tr.stages = []
                for s in stages {
                    guard let st = TrainStage(rawValue: s) else { throw m.error("stages", "unknown stage \(s) (sft, dpo, kto)") }
                    tr.stages.append(st)
                }
            }
            if let fws = try m.strings("frameworks") {
                tr.frameworks = []
                for f in fws {
                    if f == "all" { tr.frameworks = TrainFramework.allCases; break }
                    guard let fw = TrainFramework(rawValue: f) else { throw m.error("frameworks", "unknown framework \(f) (llamafactory, axolotl, trl or all)") }
                    tr.frameworks.append(fw)
                }
            }
            if let gpu = try m.string("gpu") {
                guard catalog.gpu(named: gpu) != nil else { throw m.error("gpu", "unknown GPU \(gpu) (\(catalog.gpus.map(\.name).joined(separator: ", ")))") }
                tr.gpu = gpu
            }
            if tr.sizes.isEmpty || tr.stages.isEmpty || tr.frameworks.isEmpty { throw m.error("sizes", "give at least one size, stage and framework") }
            tr.target = try m.string("target") ?? r.render.first?.name
            if let target = tr.target, !r.render.contains(where: { $0.name == target }) { throw m.error("target", "no render target is named \(target)") }
            if tr.stages.contains(.sft) && tr.target == nil { throw m.error("stages", "sft configs need a render target (its template writes the data files)") }
            if (tr.stages.contains(.dpo) || tr.stages.contains(.kto)) && r.pairs == nil { throw m.error("stages", "dpo and kto configs need a pairs section") }
            if tr.stages.contains(.kto) && tr.frameworks.contains(.llamafactory) {
                throw m.error("frameworks", "LLaMA-Factory KTO data (ShareGPT + kto_tag) has no trajforge writer yet: use trl or axolotl for kto")
            }
            for (size, base) in try m.stringMap("bases") ?? [] {
                guard tr.sizes.contains(size.lowercased()) else { throw m.error("bases", "size \(size) is not among the sizes") }
                tr.bases[size.lowercased()] = base
            }
            tr.nodes = try m.int("nodes", min: 1)
            tr.maxNodes = try m.int("max_nodes", min: 1)
            tr.sequenceLength = try m.int("seq_len", min: 1)
            tr.globalBatch = try m.int("global_batch", min: 1)
            tr.microBatch = try m.int("micro_batch", min: 1)
            tr.epochs = try m.double("epochs", min: 0)
            tr.learningRate = try m.double("learning_rate", min: 0)
            tr.method = try m.choice("method", FineTuneMethod.allCases.map(\.rawValue)).flatMap(FineTuneMethod.init(rawValue:))
            tr.slurmPartition = try m.string("slurm_partition")
            tr.slurmAccount = try m.string("slurm_account")
            try m.finish(allowed: ["sizes", "stages", "frameworks", "target", "gpu", "bases", "nodes", "max_nodes", "seq_len", "global_batch",
                                   "micro_batch", "epochs", "learning_rate", "method", "slurm_partition", "slurm_account"])
            r.train = tr
        }

        for key in Recipe.topLevelKeys where root.has(key) {
            if let n = root.node(key) { r.sections[key] = try sectionJSON(n, root, key) }
        }
        try root.finish(allowed: Recipe.topLevelKeys)
        return r
    }

    /// A section as JSON with variables substituted (what the step fingerprints hash).
    static func sectionJSON(_ node: Node, _ m: YAMLMapping, _ what: String) throws(RecipeError) -> JSON {
        switch node {
        case .scalar(let s):
            switch kind(s) {
            case .null: return .null
            case .bool: return .bool(["true", "yes", "on"].contains(s.string.lowercased()))
            case .int, .float: return JSONNumber(validating: s.string).map(JSON.number) ?? .string(s.string)
            default: return .string(try m.substitute(s.string, s.mark, what))
            }
        case .sequence(let seq):
            var out: [JSON] = []
            for item in seq { out.append(try sectionJSON(item, m, what)) }
            return .array(out)
        case .mapping(let map):
            var o = JSONObject()
            for (k, v) in map { o[k.string ?? ""] = try sectionJSON(v, m, what) }
            return .object(o)
        case .alias:
            return .null
        }
    }
}

/// Files matching a path whose last component may hold `*` and `?`, in name order.
func expandGlob(_ pattern: String) -> [String] {
    let url = URL(fileURLWithPath: pattern)
    let name = url.lastPathComponent
    guard name.contains("*") || name.contains("?") else { return FileManager.default.fileExists(atPath: pattern) ? [pattern] : [] }
    let dir = url.deletingLastPathComponent().path
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return entries.filter { fnmatch(name, $0, 0) == 0 }.sorted().map { dir + "/" + $0 }
}
