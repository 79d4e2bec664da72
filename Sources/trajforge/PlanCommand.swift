import ArgumentParser
import ByteJSON
import Foundation
import TrajForge

/// A plan that does not fit (or cannot be made) exits with this status.
let planRefusedStatus: Int32 = 1

/// Options shared by `plan` and `config`: the model, the method, the hardware and the data.
struct PlanOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Model size from the catalog: 1b, 3b, 8b, 32b, 70b, or all.", valueName: "size"))
    var size: String?

    @Option(help: ArgumentHelp("A custom model: its config.json or a folder holding one (instead of --size).", valueName: "path"))
    var model: String?

    @Option(help: ArgumentHelp("Chat template of a --model (default: xlam2-qwen or xlam2-llama by family).", valueName: "name"))
    var template: String?

    @Option(help: ArgumentHelp("Start from another base with the same architecture (e.g. 70b: meta-llama/Llama-3.3-70B-Instruct).", valueName: "id"))
    var base: String?

    @Option(help: ArgumentHelp("Catalog file of the shape of recipes/models.json (default: the built-in one).", valueName: "path"))
    var catalog: String?

    @Option(help: ArgumentHelp("full (the paper), lora or qlora.", valueName: "method"))
    var method: String?

    @Option(help: ArgumentHelp("DeepSpeed ZeRO stage 0-3 (default 3, the paper; qlora: 0).", valueName: "stage"))
    var zero: Int?

    @Option(help: ArgumentHelp("auto (offload only if nothing else fits), none, optimizer or all.", valueName: "mode"))
    var offload: String?

    @Option(help: ArgumentHelp("GPU: h100, h200 (default, the paper's), a100, a100-40gb.", valueName: "name"))
    var gpu: String?

    @Option(help: ArgumentHelp("A GPU not in the catalog: its memory in GiB (with --gpu-tflops).", valueName: "GiB"))
    var gpuMemory: Double?

    @Option(help: ArgumentHelp("Dense bf16 peak of a --gpu-memory GPU, in TFLOPS.", valueName: "TFLOPS"))
    var gpuTflops: Double?

    @Option(help: ArgumentHelp("GPUs per node (default 8).", valueName: "n"))
    var gpusPerNode: Int?

    @Option(help: ArgumentHelp("Use exactly this many nodes (default: the fewest that fit).", valueName: "n"))
    var nodes: Int?

    @Option(help: ArgumentHelp("The most nodes to consider before offloading (default 16).", valueName: "n"))
    var maxNodes: Int = 16

    @Option(help: ArgumentHelp("Sequence length (default 16384, ActionStudio's).", valueName: "tokens"))
    var seqLen: Int?

    @Option(help: ArgumentHelp("Target global batch in sequences (default 48, ActionStudio's).", valueName: "n"))
    var globalBatch: Int?

    @Option(help: ArgumentHelp("Micro batch per GPU (default: the largest that fits).", valueName: "n"))
    var microBatch: Int?

    @Option(help: ArgumentHelp("Epochs (default: 3 for SFT, the paper's maximum; 1 for DPO/KTO).", valueName: "n"))
    var epochs: Double?

    @Option(help: ArgumentHelp("Model FLOPs utilisation for the time estimate (default 0.35).", valueName: "fraction"))
    var mfu: Double?

    @Option(help: ArgumentHelp("Share of GPU memory kept free (default 0.10).", valueName: "fraction"))
    var reserve: Double?

    @Option(help: ArgumentHelp("Host memory per node in GiB, to check offload against.", valueName: "GiB"))
    var nodeMemory: Double?

    @Option(help: ArgumentHelp("LoRA rank for lora/qlora and the comparison (default 16).", valueName: "r"))
    var loraRank: Int?

    @Option(help: ArgumentHelp("Warmup steps (default 100, ActionStudio's).", valueName: "n"))
    var warmupSteps: Int?

    @Flag(help: "Plan without gradient checkpointing.")
    var noGradientCheckpointing = false

    @Flag(help: "Assume a fused linear cross-entropy kernel (Liger): no logits in memory.")
    var fusedCe = false

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Tokenized samples or pairs (render/pairs --tokenizer output) or shard folders: token counts for steps and time.",
        valueName: "path"))
    var tokensFrom: [String] = []

    @Option(help: ArgumentHelp("Worker threads for reading --tokens-from (default: all cores).", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if (size == nil) == (model == nil) { throw ValidationError("give --size (1b, 3b, 8b, 32b, 70b or all) or --model, not both") }
        if let method, FineTuneMethod(rawValue: method) == nil { throw ValidationError("--method must be full, lora or qlora") }
        if let offload, OffloadChoice(rawValue: offload) == nil { throw ValidationError("--offload must be auto, none, optimizer or all") }
        if let zero, !(0...3).contains(zero) { throw ValidationError("--zero must be 0, 1, 2 or 3") }
        if (gpuMemory == nil) != (gpuTflops == nil) { throw ValidationError("--gpu-memory and --gpu-tflops go together") }
        if gpu != nil && gpuMemory != nil { throw ValidationError("give --gpu or --gpu-memory, not both") }
        for (name, v) in [("--gpus-per-node", gpusPerNode), ("--nodes", nodes), ("--seq-len", seqLen), ("--global-batch", globalBatch),
                          ("--micro-batch", microBatch), ("--lora-rank", loraRank)] {
            if let v, v < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if maxNodes < 1 { throw ValidationError("--max-nodes must be at least 1") }
        if let warmupSteps, warmupSteps < 0 { throw ValidationError("--warmup-steps must not be negative") }
        if let epochs, epochs <= 0 { throw ValidationError("--epochs must be positive") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let v = gpuMemory, v <= 0 { throw ValidationError("--gpu-memory must be positive") }
        if let v = gpuTflops, v <= 0 { throw ValidationError("--gpu-tflops must be positive") }
        if let v = nodeMemory, v <= 0 { throw ValidationError("--node-memory must be positive") }
    }

    /// The catalog, or exit 74 with the reason.
    func loadCatalog() throws -> ModelCatalog {
        guard let catalog else { return ModelCatalog.builtin }
        do { return try ModelCatalog.load(path: catalog) } catch {
            printError("error: --catalog: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
    }

    /// The models the options name.
    func models(_ catalog: ModelCatalog) throws -> [ModelEntry] {
        var list: [ModelEntry]
        if let model {
            do { list = [try ModelEntry.fromConfig(path: model, template: template, llamaFactoryTemplate: nil)] } catch {
                printError("error: --model: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        } else if let size, size.lowercased() == "all" {
            list = catalog.models
        } else if let size, let m = catalog.model(size: size) {
            list = [m]
        } else {
            throw ValidationError("--size must be one of \(catalog.sizes.joined(separator: ", ")) or all (got \(size ?? ""))")
        }
        if let base {
            guard list.count == 1 else { throw ValidationError("--base applies to one size") }
            list[0].base = base
            list[0].baseEvidence = "user: --base (same architecture as \(list[0].name)'s catalog base assumed)"
        }
        if let template, model == nil {
            for k in list.indices { list[k].template = template }
        }
        return list
    }

    func gpuSpec(_ catalog: ModelCatalog) throws -> Sourced<GPUSpec> {
        if let mem = gpuMemory, let tf = gpuTflops {
            return Sourced(GPUSpec(name: "custom-\(PythonFloatText.short(mem))GiB", memoryBytes: Int(mem * 1073741824), bf16PeakFLOPS: tf * 1e12,
                                   source: "user: --gpu-memory \(PythonFloatText.short(mem)) GiB, --gpu-tflops \(PythonFloatText.short(tf))"), .user("--gpu-memory"))
        }
        let name = gpu ?? XLAM2Recipe.gpu.value
        guard let spec = catalog.gpu(named: name) else {
            throw ValidationError("--gpu \(name) is not in the catalog (\(catalog.gpus.map(\.name).joined(separator: ", "))); give --gpu-memory and --gpu-tflops")
        }
        return Sourced(spec, gpu == nil ? XLAM2Recipe.gpu.origin : .user("--gpu"))
    }

    /// The token census of --tokens-from (nil without it).
    func census() throws -> TokenCensus? {
        guard !tokensFrom.isEmpty else { return nil }
        do {
            let c = try TokenCensus.read(tokensFrom, threads: threads ?? defaultThreadCount)
            if c.samples == 0 {
                printError("error: --tokens-from: no record carries token ids (input_ids, or prompt/chosen/rejected ids); render or pair with --tokenizer")
                throw ExitCode(ExitStatus.ioFailure)
            }
            return c
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("error: --tokens-from: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
    }

    /// The request for one model and stage.
    func request(model: ModelEntry, stage: TrainStage, gpu: Sourced<GPUSpec>, census: TokenCensus?) -> PlanRequest {
        var r = PlanRequest(model: model, gpu: gpu)
        r.stage = stage
        if let method { r.method = Sourced(FineTuneMethod(rawValue: method)!, .user("--method")) }
        if let zero {
            r.zeroStage = Sourced(zero, .user("--zero"))
        } else if r.method.value == .qlora {
            r.zeroStage = Sourced(0, .framework("QLoRA is planned without ZeRO partitioning"))
        }
        if let offload { r.offload = Sourced(OffloadChoice(rawValue: offload)!, .user("--offload")) }
        if let gpusPerNode { r.gpusPerNode = Sourced(gpusPerNode, .user("--gpus-per-node")) }
        if let nodes { r.nodes = Sourced(nodes, .user("--nodes")) }
        r.maxNodes = maxNodes
        if let seqLen { r.sequenceLength = Sourced(seqLen, .user("--seq-len")) }
        if let globalBatch { r.globalBatch = Sourced(globalBatch, .user("--global-batch")) }
        if let microBatch { r.microBatch = Sourced(microBatch, .user("--micro-batch")) }
        if let epochs {
            r.epochs = Sourced(epochs, .user("--epochs"))
        } else if stage != .sft {
            r.epochs = XLAM2Recipe.preferenceEpochs
        }
        if let mfu { r.mfu = Sourced(mfu, .user("--mfu")) }
        if let reserve { r.memoryReserve = Sourced(reserve, .user("--reserve")) }
        if noGradientCheckpointing { r.gradientCheckpointing = Sourced(false, .user("--no-gradient-checkpointing")) }
        if fusedCe { r.fusedCrossEntropy = Sourced(true, .user("--fused-ce")) }
        if let loraRank { r.loraRank = Sourced(loraRank, .user("--lora-rank")) }
        if let warmupSteps { r.warmupSteps = Sourced(warmupSteps, .user("--warmup-steps")) }
        if let nodeMemory { r.nodeMemoryBytes = Int(nodeMemory * 1073741824) }
        r.census = census
        return r
    }
}

/// Short decimal text for option echoes (80 not 80.0).
enum PythonFloatText {
    static func short(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Plan GPUs, nodes, batch and memory for fine-tuning xLAM-2-fc-r 1B-70B.",
        discussion: """
            For a model (--size from the catalog, or --model config.json), a
            method and a GPU, the planner finds the fewest nodes whose per-GPU
            memory fits, then the largest micro batch and the accumulation that
            reach the target global batch. A request that fits nowhere is
            refused with the reason (exit 1).

            Memory per GPU = model states + activations (+ the reference model
            for DPO/KTO). Model states for ZeRO-2/3 are DeepSpeed's own
            estimators, to the byte (estimate_zero{2,3}_model_states_mem_needs,
            additional_buffer_factor 1.5, zero_init); ZeRO-0/1, LoRA and QLoRA
            use the same byte accounting. Activations are an estimate for
            gradient checkpointing and FlashAttention-2, plus the logits
            (--fused-ce drops them). --tokens-from counts tokens in tokenized
            samples, pairs or shard folders: steps per epoch (as the HF Trainer
            counts them) and a wall-time estimate at --mfu.

            Defaults and where they come from: ZeRO-3, bf16, full fine-tune,
            <= 3 epochs, one H200 node (the paper, APIGen-MT 5.1); sequence
            length 16384 and global batch 48 (ActionStudio, labelled as
            defaults); MFU 0.35 and a 10% memory reserve (assumptions). Every
            figure in the output names its source.

            Examples:
              trajforge plan --size 8b
              trajforge plan --size 70b --gpu h100 --json plan-70b.json
              trajforge plan --size all --gpu a100 --seq-len 8192
              trajforge plan --size 8b --stage dpo --tokens-from pairs.tok.jsonl
              trajforge plan --model models/my-qwen/config.json --method qlora \\
                  --gpu-memory 24 --gpu-tflops 165 --seq-len 4096
              trajforge plan --size 8b --deepspeed-table --gpus-per-node 8
            """)

    @OptionGroup var planOptions: PlanOptions

    @Option(help: ArgumentHelp("sft, dpo or kto (default sft).", valueName: "stage"))
    var stage: String = "sft"

    @Option(help: ArgumentHelp("Also write the plan(s) as JSON (schemas/plan.schema.json).", valueName: "path"))
    var json: String?

    @Flag(help: "Also print DeepSpeed's own estimator tables (the _all_cold printouts).")
    var deepspeedTable = false

    func validate() throws {
        if TrainStage(rawValue: stage) == nil { throw ValidationError("--stage must be sft, dpo or kto") }
    }

    func run() throws {
        ensureUTF8Locale()
        let catalog = try planOptions.loadCatalog()
        let models = try planOptions.models(catalog)
        let gpu = try planOptions.gpuSpec(catalog)
        let census = try planOptions.census()
        var plans: [JSON] = []
        var refused = 0
        for model in models {
            let request = planOptions.request(model: model, stage: TrainStage(rawValue: stage)!, gpu: gpu, census: census)
            if deepspeedTable {
                let a = model.architecture
                let g = request.gpusPerNode.value
                let n = planOptions.nodes ?? 1
                print(DeepSpeedEstimator.zero2Table(totalParams: a.parameters, gpusPerNode: g, nodes: n), terminator: "")
                print(DeepSpeedEstimator.zero3Table(totalParams: a.parameters, largestLayerParams: a.largestLayerParameters, gpusPerNode: g, nodes: n),
                      terminator: "")
            }
            do {
                let plan = try Planner.plan(request)
                print(plan.text, terminator: "")
                plans.append(plan.json)
            } catch {
                printError("refused: \(model.name) \(stage): \(error.reason)")
                refused += 1
            }
        }
        if let json, !plans.isEmpty {
            do {
                let file = try OutputFile(path: json, compression: OutputCompression(.none))
                let value: JSON = plans.count == 1 ? plans[0] : .array(plans)
                try file.write(value.serializedBytes(.pretty) + [0x0A])
                try file.commit()
                printError("wrote \(json) (\(plans.count) plan\(plans.count == 1 ? "" : "s"))")
            } catch {
                printError("error: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        if refused > 0 { throw ExitCode(planRefusedStatus) }
    }
}
