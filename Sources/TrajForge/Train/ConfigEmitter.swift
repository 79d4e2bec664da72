import ByteJSON
import Foundation

// `trajforge config`: from a plan, the files each framework reads — LLaMA-Factory YAML +
// dataset_info.json, axolotl YAML, TRL CLI YAML + accelerate config, DeepSpeed JSON, the chat
// template, and torchrun / Slurm launch scripts. Every file starts with a comment (JSON files: a
// "_comment" member) saying which values are the paper's, which are defaults and whose, and
// which the plan derived; every value carries its origin as a trailing comment.

public enum TrainFramework: String, Sendable, CaseIterable {
    case llamafactory, axolotl, trl

    public var title: String {
        switch self {
        case .llamafactory: "LLaMA-Factory"
        case .axolotl: "axolotl"
        case .trl: "TRL"
        }
    }
}

/// One file `config` writes: its path (under the output folder) and text.
public struct EmittedFile: Sendable, Equatable {
    public var path: String
    public var contents: String
    public var executable: Bool
    /// One line for the command's report.
    public var summary: String

    public init(path: String, contents: String, executable: Bool = false, summary: String) {
        self.path = path
        self.contents = contents
        self.executable = executable
        self.summary = summary
    }
}

/// What the user chose beyond the plan.
public struct ConfigOptions: Sendable {
    /// Where files go: `<outputDir>/<size>/...` (relative to the working directory, as given).
    public var outputDir = "configs"
    /// Absolute working directory the launch scripts change to (every path in the configs is relative to it).
    public var workdir: String
    /// Folder of the conventionally named data files (see `ConfigEmitter.dataFile`).
    public var dataDir = "data"
    /// Training file, overriding the conventional name (one framework and one stage only).
    public var train: String?
    /// Evaluation file (one framework and one stage only; not for TRL, whose CLI loads one mixture).
    public var eval: String?
    /// Checkpoints go to `<runRoot>/<model name>/<framework>/<stage>`.
    public var runRoot = "saves"
    /// The model to start from (default: the base for SFT, the SFT stage's output for DPO/KTO).
    public var modelPath: String?
    public var learningRate: Double?
    public var warmupSteps: Sourced<Int> = XLAM2Recipe.warmupSteps
    public var beta: Double?
    public var seed = Sourced(42, .byDefault("transformers TrainingArguments"))
    public var slurmPartition: String?
    public var slurmAccount: String?
    /// The command line, quoted in every header.
    public var commandLine = "trajforge config"

    public init(workdir: String) { self.workdir = workdir }
}

/// Resolved training values for one (plan, framework), each with its origin.
struct TrainValues {
    var model: Sourced<String>
    var learningRate: Sourced<Double>
    var scheduler: Sourced<String>
    var warmupSteps: Sourced<Int>
    var weightDecay: Sourced<Double>
    var epochs: Sourced<Double>
    var sequenceLength: Sourced<Int>
    var microBatch: Sourced<Int>
    var gradientAccumulation: Sourced<Int>
    var beta: Sourced<Double>
    var seed: Sourced<Int>
    var outputDir: String
}

public struct ConfigEmitter {
    public var plan: TrainingPlan
    public var framework: TrainFramework
    public var options: ConfigOptions

    public init(plan: TrainingPlan, framework: TrainFramework, options: ConfigOptions) {
        self.plan = plan
        self.framework = framework
        self.options = options
    }

    var model: ModelEntry { plan.request.model }
    var stage: TrainStage { plan.request.stage }
    var sizeDir: String { joinRelative(options.outputDir, model.size == "custom" ? model.name : model.size) }

    // MARK: data files

    /// The conventional data file name for a framework and stage (inside --data).
    public static func dataFile(_ framework: TrainFramework, _ stage: TrainStage) -> String {
        switch (framework, stage) {
        case (.llamafactory, _): "\(stage.rawValue).sharegpt.jsonl"
        case (.axolotl, .sft): "sft.messages.jsonl"
        default: "\(stage.rawValue).trl.jsonl"
        }
    }

    /// What the data file holds and the trajforge command that writes it.
    public static func dataRecipe(_ framework: TrainFramework, _ stage: TrainStage, template: String, path: String) -> (format: String, command: String) {
        switch (framework, stage) {
        case (.llamafactory, .sft):
            ("ShareGPT per-turn samples (conversations, system, tools), each ending at its supervised reply",
             "trajforge render --template \(template) --to sharegpt train.jsonl -o \(path)")
        case (.llamafactory, .dpo):
            ("LLaMA-Factory ranking ShareGPT: conversations + one chosen and one rejected message",
             "trajforge pairs train.jsonl --to sharegpt -o \(path)")
        case (.llamafactory, .kto):
            ("ShareGPT conversations ending with the judged assistant message, plus a boolean kto_tag column",
             "no trajforge writer yet: one row per example of `trajforge pairs --strategy kto` (TRL KTO), its completion appended to the conversation")
        case (.axolotl, .sft):
            ("OpenAI messages + tools, one sample per trajectory, every assistant reply supervised",
             "trajforge render --template \(template) --to trl --mode all-turns --arguments string train.jsonl -o \(path)")
        case (_, .sft):
            ("TRL conversational prompt/completion per assistant reply, with tools",
             "trajforge render --template \(template) --to trl train.jsonl -o \(path)")
        case (_, .dpo):
            ("TRL conversational DPO: prompt, chosen and rejected message lists, with tools",
             "trajforge pairs train.jsonl --to trl-dpo -o \(path)")
        case (_, .kto):
            ("TRL KTO: prompt and completion message lists, boolean label, with tools",
             "trajforge pairs train.jsonl --strategy kto -o \(path)")
        }
    }

    var trainPath: String { options.train ?? joinRelative(options.dataDir, ConfigEmitter.dataFile(framework, stage)) }

    // MARK: values

    var values: TrainValues {
        let r = plan.request
        let sftModel = Sourced(model.base, .byDefault("catalog base (\(model.baseEvidence.isEmpty ? model.origin : model.baseEvidence))"))
        let modelValue: Sourced<String>
        if let path = options.modelPath {
            modelValue = Sourced(path, .user("--model-path"))
        } else if stage == .sft {
            modelValue = sftModel
        } else {
            modelValue = Sourced(joinRelative(options.runRoot, "\(model.name)/\(framework.rawValue)/sft"),
                                 .byDefault("trajforge: this framework's SFT output (or the released \(model.released ?? model.name))"))
        }
        let lr = options.learningRate.map { Sourced($0, .user("--lr")) }
            ?? (stage == .sft ? XLAM2Recipe.sftLearningRate : XLAM2Recipe.preferenceLearningRate)
        let epochs = r.epochs.origin == .user("--epochs") ? r.epochs : (stage == .sft ? r.epochs : XLAM2Recipe.preferenceEpochs)
        return TrainValues(
            model: modelValue, learningRate: lr, scheduler: XLAM2Recipe.scheduler, warmupSteps: options.warmupSteps,
            weightDecay: XLAM2Recipe.weightDecay, epochs: epochs, sequenceLength: r.sequenceLength,
            microBatch: Sourced(plan.microBatch, r.microBatch?.origin ?? .plan), gradientAccumulation: Sourced(plan.gradientAccumulation, .plan),
            beta: options.beta.map { Sourced($0, .user("--beta")) } ?? XLAM2Recipe.preferenceBeta, seed: options.seed,
            outputDir: joinRelative(options.runRoot, "\(model.name)/\(framework.rawValue)/\(stage.rawValue)"))
    }

    // MARK: shared files

    /// The DeepSpeed config for the plan's ZeRO setup.
    public var deepSpeedPath: String {
        let z = plan.zero
        var name = "ds_z\(z.stage)"
        if z.offloadOptimizer && z.offloadParams { name += "_offload_all" } else if z.offloadOptimizer { name += "_offload_optimizer" }
        return joinRelative(sizeDir, "deepspeed/\(name).json")
    }

    /// The chat template file TRL and axolotl load (built-ins are written verbatim, so their
    /// sha256 matches the samples' template.sha256); a path template is referenced where it is.
    public var templatePath: String {
        BuiltinTemplate.named(model.template) != nil ? joinRelative(sizeDir, "\(model.template).jinja") : model.template
    }

    public var planPath: String { joinRelative(sizeDir, "plan-\(stage.rawValue).json") }

    /// Every file for this framework and stage (shared files included; the caller dedups by path).
    public func files() throws(PlanRefusal) -> [EmittedFile] {
        if options.eval != nil && framework == .trl {
            throw PlanRefusal("TRL's CLI loads one dataset mixture and cannot take a separate evaluation file; drop --eval for trl (evaluate with a script of your own)")
        }
        var out: [EmittedFile] = []
        out.append(EmittedFile(path: planPath, contents: plan.json.serialized(.pretty) + "\n",
                               summary: "plan (schemas/plan.schema.json)"))
        if plan.request.method.value == .full || plan.zero.stage > 0 {
            out.append(deepSpeedFile())
        }
        if let builtin = BuiltinTemplate.named(model.template), framework != .llamafactory {
            out.append(EmittedFile(path: templatePath, contents: builtin.source, summary: "chat template \(builtin.name) (verbatim)"))
        }
        switch framework {
        case .llamafactory: out += llamaFactoryFiles()
        case .axolotl: out += axolotlFiles()
        case .trl: out += trlFiles()
        }
        out += launchFiles()
        return out
    }

    // MARK: headers

    /// The provenance lines every file starts with.
    func headerLines(_ what: String, data: Bool = true) -> [String] {
        let r = plan.request
        let v = values
        var lines = ["trajforge \(TrajForgeVersion.string): \(model.name), \(stage.rawValue.uppercased()), \(framework.title): \(what)",
                     "generated by: \(options.commandLine)", ""]
        lines.append("paper (\(XLAM2Recipe.paper)), for SFT of xLAM-2-fc-r:")
        lines += XLAM2Recipe.paperFacts.map { "  " + $0 }
        lines.append("defaults (the paper does not state these; labelled, not the paper's recipe):")
        lines.append("  \(XLAM2Recipe.actionStudioSource),")
        lines.append("  the same team's public config: " + XLAM2Recipe.actionStudioFacts.joined(separator: "; "))
        if stage != .sft {
            lines.append("  preference stage (not in the paper): learning rate \(shortNumber(v.learningRate.value)) (\(v.learningRate.origin.tag)), beta \(shortNumber(v.beta.value)) (\(v.beta.origin.tag)), epochs \(shortNumber(v.epochs.value)) (\(v.epochs.origin.tag))")
        }
        lines.append("plan (trajforge plan; all figures and their sources: \(planPath)):")
        lines.append("  \(plan.nodes) node(s) x \(r.gpusPerNode.value) \(r.gpu.value.name) GPUs; micro batch \(plan.microBatch) x accumulation \(plan.gradientAccumulation) x \(plan.gpus) GPUs = global batch \(plan.globalBatch)")
        lines.append("  \(r.method.value.rawValue) fine-tune, \(plan.zero); per GPU \(Planner.gibText(plan.gpuBytes)) of \(Planner.gibText(plan.usableBytes)) usable: model states \(Planner.gibText(plan.states.gpuBytes)) (\(plan.states.exactDeepSpeed ? "DeepSpeed's estimator" : "estimate")) + activations \(Planner.gibText(plan.activations.totalBytes)) (estimate)")
        if let steps = plan.stepsPerEpoch, let total = plan.totalSteps, let seconds = plan.totalSeconds {
            lines.append("  \(steps) steps per epoch, \(total) in all; about \(String(format: "%.1f", seconds / 3600)) h at MFU \(r.mfu.value)")
        }
        var user: [String] = []
        for (name, origin) in [("model", v.model.origin), ("learning rate", v.learningRate.origin), ("sequence length", v.sequenceLength.origin),
                               ("global batch", r.globalBatch.origin), ("epochs", v.epochs.origin), ("GPU", r.gpu.origin), ("beta", v.beta.origin)]
        where origin.kind == "user" { user.append("\(name) (\(origin.tag))") }
        if !user.isEmpty { lines.append("user: " + user.joined(separator: ", ")) }
        if data {
            let recipe = ConfigEmitter.dataRecipe(framework, stage, template: model.template, path: trainPath)
            lines.append("data: \(trainPath): \(recipe.format)")
            lines.append("  make it with: \(recipe.command)")
            if let eval = options.eval { lines.append("  evaluation: \(eval) (same format)") }
        }
        lines.append("Each value below is tagged: paper, default: <whose>, plan, user: <option>, or why the framework needs it.")
        return lines
    }

    // MARK: DeepSpeed

    func deepSpeedFile() -> EmittedFile {
        let z = plan.zero
        var zero = JSONObject()
        zero["stage"] = .number(JSONNumber(z.stage))
        if z.offloadOptimizer { zero["offload_optimizer"] = ["device": "cpu", "pin_memory": true] }
        if z.offloadParams { zero["offload_param"] = ["device": "cpu", "pin_memory": true] }
        if z.stage >= 2 {
            zero["overlap_comm"] = false
            zero["contiguous_gradients"] = true
            zero["reduce_bucket_size"] = "auto"
        }
        if z.stage == 3 {
            zero["sub_group_size"] = .number(JSONNumber(1_000_000_000))
            zero["stage3_prefetch_bucket_size"] = "auto"
            zero["stage3_param_persistence_threshold"] = "auto"
            zero["stage3_max_live_parameters"] = .number(JSONNumber(1_000_000_000))
            zero["stage3_max_reuse_distance"] = .number(JSONNumber(1_000_000_000))
            zero["stage3_gather_16bit_weights_on_model_save"] = true
        }
        let comment: [String] = [
            "trajforge \(TrajForgeVersion.string): DeepSpeed \(z) for xLAM-2-fc-r; JSON has no comments, so this member says where values come from (DeepSpeed ignores it).",
            "paper (\(XLAM2Recipe.paper)): ZeRO stage 3, bf16.",
            z.offloadOptimizer ? "plan: \(z) because the model states do not fit the GPUs without it (see plan-*.json)." : "plan: no offload needed (see plan-*.json).",
            "\"auto\" values are filled by the HF Trainer integration from the framework config (batch sizes, clipping, bf16, bucket sizes), as in LLaMA-Factory's and TRL's examples.",
            "stage3_gather_16bit_weights_on_model_save: true (framework: save a full bf16 model at the end, as LLaMA-Factory's ds_z3 example does).",
        ]
        var o = JSONObject()
        o["_comment"] = .array(comment.map(JSON.string))
        o["train_batch_size"] = "auto"
        o["train_micro_batch_size_per_gpu"] = "auto"
        o["gradient_accumulation_steps"] = "auto"
        o["gradient_clipping"] = "auto"
        o["zero_allow_untested_optimizer"] = true
        o["bf16"] = ["enabled": "auto"]
        o["zero_optimization"] = .object(zero)
        return EmittedFile(path: deepSpeedPath, contents: JSON.object(o).serialized(.pretty) + "\n", summary: "DeepSpeed \(z)")
    }

    // MARK: helpers

    func entry(_ key: String, _ value: YAMLNode, _ origin: Origin? = nil) -> YAMLEntry {
        YAMLEntry(key, value, comment: origin?.tag)
    }

    func shortNumber(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
        return PythonFloat.repr(x)
    }
}

/// `a/b` without doubling slashes; `b` absolute wins.
func joinRelative(_ a: String, _ b: String) -> String {
    if b.hasPrefix("/") || a.isEmpty || a == "." { return b }
    return a.hasSuffix("/") ? a + b : a + "/" + b
}

/// The path of `target` relative to folder `from` (both relative to the same working directory,
/// or both absolute); an absolute `target` with a relative `from` stays absolute.
func relativePath(from: String, to target: String) -> String {
    if target.hasPrefix("/") != from.hasPrefix("/") { return target }
    let a = from.split(separator: "/").filter { $0 != "." }
    let b = target.split(separator: "/").filter { $0 != "." }
    var k = 0
    while k < a.count, k < b.count, a[k] == b[k] { k += 1 }
    if a[k...].contains("..") { return target }
    let up = Array(repeating: "..", count: a.count - k)
    let rest = b[k...].map(String.init)
    let parts = up + rest
    return parts.isEmpty ? "." : parts.joined(separator: "/")
}
