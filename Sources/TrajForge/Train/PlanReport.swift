import ByteJSON
import Foundation

// A plan as JSON (schemas/plan.schema.json) and as text. Every number is written with its unit
// and where it comes from.

extension Origin {
    /// The long form used as a figure's source.
    public var sourceText: String {
        switch self {
        case .paper: "paper: \(XLAM2Recipe.paper)"
        case .byDefault(let who): who == XLAM2Recipe.actionStudio ? "default: \(XLAM2Recipe.actionStudioSource)" : "default: \(who)"
        case .plan: "plan"
        case .user(let option): "user: \(option)"
        case .framework(let why): why
        }
    }
}

extension TrainingPlan {
    func figure(_ value: Int, _ unit: String, _ source: String) -> JSON {
        ["value": .number(JSONNumber(value)), "unit": .string(unit), "source": .string(source)]
    }

    func figure(_ value: Double, _ unit: String, _ source: String) -> JSON {
        ["value": JSONNumber(value).map(JSON.number) ?? .null, "unit": .string(unit), "source": .string(source)]
    }

    func setting<T>(_ s: Sourced<T>, _ encode: (T) -> JSON) -> JSON {
        ["value": encode(s.value), "source": .string(s.origin.sourceText)]
    }

    var layoutSource: String {
        nodesOrigin == .plan
            ? "plan: the fewest nodes (up to --max-nodes \(request.maxNodes)) whose per-GPU memory fits, trying \(Planner.zeroCandidates(request).map(\.description).joined(separator: ", then "))"
            : nodesOrigin.sourceText
    }

    public var json: JSON {
        let r = request
        let arch = r.model.architecture
        var o = JSONObject()
        o["plan_version"] = 1
        o["trajforge_version"] = .string(TrajForgeVersion.string)
        o["command"] = "trajforge plan"
        o["stage"] = .string(r.stage.rawValue)

        var model = JSONObject()
        model["size"] = .string(r.model.size)
        model["name"] = .string(r.model.name)
        model["released"] = r.model.released.map(JSON.string) ?? .null
        model["base"] = .string(r.model.base)
        model["base_evidence"] = .string(r.model.baseEvidence)
        model["template"] = .string(r.model.template)
        model["catalog"] = .string(r.model.origin)
        model["architecture"] = arch.json
        let counted = "computed from the architecture (\(r.model.origin))"
        model["parameters"] = figure(arch.parameters, "parameters", counted)
        model["largest_layer_parameters"] = figure(arch.largestLayerParameters, "parameters", counted + ": the largest single module, the embedding (vocab x hidden)")
        model["matmul_parameters"] = figure(arch.matmulParameters, "parameters", counted + ": all but the embedding lookup; a tied output projection counts as a matmul")
        o["model"] = .object(model)

        let g = r.gpu.value
        o["gpu"] = .object([
            "name": .string(g.name),
            "memory_bytes": figure(g.memoryBytes, "bytes", g.source),
            "usable_bytes": figure(usableBytes, "bytes", "memory less the reserve of \(r.memoryReserve.value) (\(r.memoryReserve.origin.sourceText))"),
            "bf16_peak_flops": figure(g.bf16PeakFLOPS, "FLOP/s", g.source),
            "choice": .string(r.gpu.origin.sourceText),
        ])

        o["training"] = .object([
            "method": setting(r.method) { .string($0.rawValue) },
            "zero": ["stage": .number(JSONNumber(zero.stage)), "offload_optimizer": .bool(zero.offloadOptimizer),
                     "offload_params": .bool(zero.offloadParams),
                     "source": .string(zeroOrigin == .plan ? "plan: \(zero) is the first setup that fits (offload: \(r.offload.value.rawValue), \(r.offload.origin.sourceText))" : zeroOrigin.sourceText)],
            "sequence_length": figure(r.sequenceLength.value, "tokens", r.sequenceLength.origin.sourceText),
            "memory_sequence_length": figure(memorySequenceLength, "tokens", memorySequenceLength == r.sequenceLength.value ? "the sequence length" : "the longest sample in the data"),
            "epochs": figure(r.epochs.value, "epochs", r.epochs.origin.sourceText),
            "gradient_checkpointing": setting(r.gradientCheckpointing) { .bool($0) },
            "fused_cross_entropy": setting(r.fusedCrossEntropy) { .bool($0) },
            "lora_rank": figure(r.loraRank.value, "rank", r.loraRank.origin.sourceText),
            "mfu": figure(r.mfu.value, "fraction", r.mfu.origin.sourceText),
        ])

        let dp = gpus
        o["layout"] = .object([
            "nodes": figure(nodes, "nodes", layoutSource),
            "gpus_per_node": figure(r.gpusPerNode.value, "GPUs", r.gpusPerNode.origin.sourceText),
            "gpus": figure(dp, "GPUs", "nodes x GPUs per node (data parallel)"),
            "micro_batch": figure(microBatch, "sequences", r.microBatch?.origin.sourceText ?? "plan: the largest that fits and divides the per-GPU share of the global batch"),
            "gradient_accumulation": figure(gradientAccumulation, "steps", "plan: global batch / (GPUs x micro batch)"),
            "global_batch": figure(globalBatch, "sequences", "plan: GPUs x micro batch x accumulation"),
            "target_global_batch": figure(r.globalBatch.value, "sequences", r.globalBatch.origin.sourceText),
        ])

        o["memory"] = .object([
            "model_states_per_gpu": figure(states.gpuBytes, "bytes", states.source),
            "activations_per_gpu": [
                "checkpoints": figure(activations.checkpointBytes, "bytes", "layers x tokens x hidden x 2 bytes (bf16 layer inputs)"),
                "layers": figure(activations.layerBytes, "bytes", "tokens x \(MemoryModel.layerBytesPerToken(arch)) bytes per token per layer"),
                "logits": figure(activations.logitsBytes, "bytes", r.fusedCrossEntropy.value ? "fused cross-entropy" : MemoryModel.logitsSource),
                "total": figure(activations.totalBytes, "bytes", activations.source),
            ],
            "total_per_gpu": figure(gpuBytes, "bytes", "model states + activations"),
            "host_per_node": states.cpuBytesPerNode.map { figure($0, "bytes", states.source) } ?? .null,
            "fits": .bool(gpuBytes <= usableBytes),
        ])

        o["options"] = .array(options.map { p in
            ["label": .string(p.label), "method": .string(p.method.rawValue), "zero_stage": .number(JSONNumber(p.zero.stage)),
             "offload_optimizer": .bool(p.zero.offloadOptimizer), "offload_params": .bool(p.zero.offloadParams),
             "nodes": .number(JSONNumber(p.nodes)),
             "gpu_bytes": figure(p.gpuBytes, "bytes", "model states (" + p.source + ")" + (r.stage == .sft ? "" : " + the reference model") + " + activations at micro batch \(r.stage == .kto ? 2 : 1)"),
             "host_bytes_per_node": p.cpuBytesPerNode.map { .number(JSONNumber($0)) } ?? .null,
             "fits": .bool(p.fits)]
        })

        if let c = r.census {
            o["data"] = .object([
                "inputs": .array(c.inputs.map(JSON.string)),
                "measured": .array(c.kinds.sorted().map(JSON.string)),
                "samples": .number(JSONNumber(c.samples)),
                "sequences": .number(JSONNumber(c.lengths.total)),
                "tokens": .number(JSONNumber(c.tokens)),
                "supervised_tokens": .number(JSONNumber(c.supervisedTokens)),
                "max_length": c.lengths.max.map { .number(JSONNumber($0)) } ?? .null,
                "p50_length": c.lengths.percentile(0.5).map { .number(JSONNumber($0)) } ?? .null,
                "unmeasured": .number(JSONNumber(c.unmeasured)),
            ])
        } else {
            o["data"] = .null
        }

        if let steps = stepsPerEpoch, let total = totalSteps, let flops = flopsPerEpoch, let seconds = secondsPerEpoch {
            let preference = r.stage != .sft
            o["schedule"] = .object([
                "steps_per_epoch": figure(steps, "steps", "HF Trainer: ceil(ceil(ceil(samples / micro batch) / GPUs) / accumulation), as transformers' set_initial_training_values with accelerate's even batches"),
                "total_steps": figure(total, "steps", "ceil(epochs x steps per epoch)"),
                "flops_per_epoch": figure(flops, "FLOP", preference
                    ? "model FLOPs (PaLM, Chowdhery et al. 2022, App. B) for policy forward+backward and reference forward: sum over sequences of 8 x matmul parameters x length + 16 x layers x heads x head_dim x length^2"
                    : "model FLOPs (PaLM, Chowdhery et al. 2022, App. B): sum over samples of 6 x matmul parameters x length + 12 x layers x heads x head_dim x length^2; recomputation not counted"),
                "seconds_per_epoch": figure(seconds, "seconds", "FLOPs / (GPUs x bf16 peak x MFU \(r.mfu.value))"),
                "total_seconds": figure(seconds * r.epochs.value, "seconds", "seconds per epoch x epochs"),
            ])
        } else {
            o["schedule"] = .null
        }
        o["notes"] = .array(notes.map(JSON.string))
        return .object(o)
    }

    /// The plan as lines of text: value, then source.
    public var text: String {
        let r = request
        let arch = r.model.architecture
        var rows: [(String, String, String)] = []
        func row(_ name: String, _ value: String, _ source: String) { rows.append((name, value, source)) }
        row("model", "\(r.model.name) from \(r.model.base)", r.model.baseEvidence.isEmpty ? r.model.origin : r.model.baseEvidence)
        row("parameters", grouped(arch.parameters), "computed from the architecture (\(r.model.origin))")
        row("training", "\(r.stage.rawValue), \(r.method.value.rawValue) fine-tune, \(zero)", "method \(r.method.origin.tag); ZeRO \(zeroOrigin.tag)")
        row("sequence length", grouped(r.sequenceLength.value) + (memorySequenceLength != r.sequenceLength.value ? " (memory for \(grouped(memorySequenceLength)))" : ""), r.sequenceLength.origin.tag)
        row("GPU", "\(r.gpu.value.name): \(Planner.gibText(r.gpu.value.memoryBytes)), usable \(Planner.gibText(usableBytes))", "\(r.gpu.origin.tag); reserve \(Int(r.memoryReserve.value * 100))% (\(r.memoryReserve.origin.tag))")
        row("layout", "\(nodes) node(s) x \(r.gpusPerNode.value) GPUs = \(gpus) GPUs", nodesOrigin == .plan ? "plan: fewest nodes that fit" : nodesOrigin.tag)
        row("batch", "micro \(microBatch) x accumulation \(gradientAccumulation) x \(gpus) GPUs = \(globalBatch)", "target \(r.globalBatch.value) (\(r.globalBatch.origin.tag))")
        row("model states / GPU", Planner.gibText(states.gpuBytes), states.exactDeepSpeed ? "DeepSpeed \(zero.stage == 3 ? "estimate_zero3" : "estimate_zero2")_model_states_mem_needs (exact)" : states.source)
        row("activations / GPU", Planner.gibText(activations.totalBytes),
            "estimate: checkpoints \(Planner.gibText(activations.checkpointBytes)) + layer \(Planner.gibText(activations.layerBytes)) + logits \(Planner.gibText(activations.logitsBytes))")
        row("total / GPU", Planner.gibText(gpuBytes), "fits in \(Planner.gibText(usableBytes))")
        if let cpu = states.cpuBytesPerNode { row("host memory / node", Planner.gibText(cpu), "DeepSpeed (same estimator)") }
        if let c = r.census {
            row("data", "\(grouped(c.samples)) samples, \(grouped(c.tokens)) tokens, longest \(c.lengths.max.map(grouped) ?? "-")", c.inputs.joined(separator: "; "))
        }
        if let steps = stepsPerEpoch, let total = totalSteps, let seconds = secondsPerEpoch {
            row("steps", "\(grouped(steps)) / epoch, \(grouped(total)) in \(formatEpochs(r.epochs.value)) epochs", "HF Trainer step count; epochs \(r.epochs.origin.tag)")
            row("time", "\(hours(seconds)) / epoch, \(hours(seconds * r.epochs.value)) in all", "model FLOPs at MFU \(r.mfu.value) (\(r.mfu.origin.tag)) on \(gpus) x \(String(format: "%.1f", r.gpu.value.bf16PeakFLOPS / 1e12)) TFLOPS")
        }
        let w0 = rows.map(\.0.count).max() ?? 0
        let w1 = rows.map(\.1.count).max() ?? 0
        var out = "plan: \(r.model.name) \(r.stage.rawValue) on \(r.gpu.value.name)\n"
        for (a, b, c) in rows {
            out += "  " + a.padding(toLength: w0, withPad: " ", startingAt: 0) + "  " + b.padding(toLength: w1, withPad: " ", startingAt: 0) + "  " + c + "\n"
        }
        out += "  options on \(nodes) node(s), micro batch \(r.stage == .kto ? 2 : 1) (per GPU; * = fits):\n"
        let wl = options.map(\.label.count).max() ?? 0
        for p in options {
            var line = "    " + (p.fits ? "* " : "  ") + p.label.padding(toLength: wl, withPad: " ", startingAt: 0) + "  " + Planner.gibText(p.gpuBytes)
            if let cpu = p.cpuBytesPerNode { line += ", host \(Planner.gibText(cpu)) / node" }
            out += line + "\n"
        }
        for n in notes { out += "  note: \(n)\n" }
        return out
    }

    func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (k, d) in digits.enumerated() {
            if k > 0 && (digits.count - k) % 3 == 0 { out += "," }
            out.append(d)
        }
        return out
    }

    func hours(_ seconds: Double) -> String { String(format: "%.1f h", seconds / 3600) }
    func formatEpochs(_ e: Double) -> String { e == e.rounded() ? String(Int(e)) : String(e) }
}
