import Foundation

// The planner: for a model, a method and a GPU, find the fewest nodes (and, if needed, the least
// offload) whose per-GPU memory fits, the micro batch and gradient accumulation that reach the
// target global batch, and — given token counts — steps per epoch and a wall-time estimate at a
// stated MFU. A request that fits nowhere is refused with the reason.

public enum OffloadChoice: String, Sendable, CaseIterable {
    /// No offload if it fits on up to --max-nodes nodes, else optimizer offload, else both.
    case auto
    case none
    case optimizer
    case all
}

public struct PlanRequest: Sendable {
    public var model: ModelEntry
    public var stage: TrainStage = .sft
    public var method = Sourced(FineTuneMethod.full, .paper)
    public var zeroStage: Sourced<Int> = XLAM2Recipe.zeroStage
    public var offload = Sourced(OffloadChoice.auto, .byDefault("trajforge: offload only when no node count up to --max-nodes fits"))
    public var gpu: Sourced<GPUSpec>
    public var gpusPerNode: Sourced<Int> = XLAM2Recipe.gpusPerNode
    /// A fixed node count (nil: the fewest that fit, up to maxNodes).
    public var nodes: Sourced<Int>?
    public var maxNodes = 16
    public var sequenceLength: Sourced<Int> = XLAM2Recipe.sequenceLength
    public var globalBatch: Sourced<Int> = XLAM2Recipe.globalBatch
    /// A fixed micro batch (nil: the largest that fits and divides the per-GPU batch).
    public var microBatch: Sourced<Int>?
    public var epochs: Sourced<Double> = XLAM2Recipe.epochs
    public var mfu: Sourced<Double> = XLAM2Recipe.mfu
    public var memoryReserve: Sourced<Double> = XLAM2Recipe.memoryReserve
    public var gradientCheckpointing = Sourced(true, .byDefault("LLaMA-Factory, TRL and ActionStudio enable it"))
    public var fusedCrossEntropy = Sourced(false, .byDefault("trajforge: off (Liger kernel not assumed installed)"))
    public var loraRank: Sourced<Int> = XLAM2Recipe.loraRank
    public var warmupSteps: Sourced<Int> = XLAM2Recipe.warmupSteps
    /// Host memory per node, to check offload plans against (nil: not checked).
    public var nodeMemoryBytes: Int?
    public var census: TokenCensus?

    public init(model: ModelEntry, gpu: Sourced<GPUSpec>) {
        self.model = model
        self.gpu = gpu
    }
}

/// A number in a plan and where it comes from.
public struct Figure: Sendable, Equatable {
    public var name: String
    public var value: Double
    public var unit: String
    public var source: String

    public init(_ name: String, _ value: Double, unit: String, source: String) {
        self.name = name
        self.value = value
        self.unit = unit
        self.source = source
    }
}

/// One way to train the model and whether it fits (the plan's comparison table).
public struct PlanOption: Sendable, Equatable {
    public var label: String
    public var method: FineTuneMethod
    public var zero: ZeroSetup
    public var nodes: Int
    public var gpuBytes: Int
    public var cpuBytesPerNode: Int?
    public var fits: Bool
    public var source: String
}

public struct TrainingPlan: Sendable {
    public var request: PlanRequest
    public var zero: ZeroSetup
    public var zeroOrigin: Origin
    public var nodes: Int
    public var nodesOrigin: Origin
    public var microBatch: Int
    public var gradientAccumulation: Int
    public var globalBatch: Int
    public var states: ModelStateMemory
    public var activations: ActivationMemory
    /// The sequence length memory was planned for (the longest sample when shorter than --seq-len).
    public var memorySequenceLength: Int
    public var usableBytes: Int
    public var options: [PlanOption]
    public var stepsPerEpoch: Int?
    public var totalSteps: Int?
    public var flopsPerEpoch: Double?
    public var secondsPerEpoch: Double?
    public var notes: [String]

    public var gpus: Int { nodes * request.gpusPerNode.value }
    public var gpuBytes: Int { states.gpuBytes + activations.totalBytes }
    public var totalSeconds: Double? { secondsPerEpoch.map { $0 * request.epochs.value } }
}

public struct PlanRefusal: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

public enum Planner {
    static let gib = 1073741824.0

    public static func gibText(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / gib) }

    /// The ZeRO setups to try, in order of preference.
    static func zeroCandidates(_ r: PlanRequest) -> [ZeroSetup] {
        let stage = r.zeroStage.value
        switch r.offload.value {
        case .none: return [ZeroSetup(stage: stage)]
        case .optimizer: return [ZeroSetup(stage: stage, offloadOptimizer: true)]
        case .all: return [ZeroSetup(stage: stage, offloadOptimizer: true, offloadParams: true)]
        case .auto:
            if r.method.value != .full { return [ZeroSetup(stage: stage)] }
            switch stage {
            case 3: return [ZeroSetup(stage: 3), ZeroSetup(stage: 3, offloadOptimizer: true), ZeroSetup(stage: 3, offloadOptimizer: true, offloadParams: true)]
            case 2: return [ZeroSetup(stage: 2), ZeroSetup(stage: 2, offloadOptimizer: true)]
            default: return [ZeroSetup(stage: stage)]
            }
        }
    }

    public static func plan(_ r: PlanRequest) throws(PlanRefusal) -> TrainingPlan {
        let arch = r.model.architecture
        let g = r.gpusPerNode.value
        guard g >= 1 else { throw PlanRefusal("GPUs per node must be at least 1") }
        guard r.globalBatch.value >= 1 else { throw PlanRefusal("the global batch must be at least 1") }
        guard r.sequenceLength.value >= 1 else { throw PlanRefusal("the sequence length must be at least 1") }
        guard r.mfu.value > 0, r.mfu.value <= 1 else { throw PlanRefusal("MFU must be in (0, 1]") }
        guard r.memoryReserve.value >= 0, r.memoryReserve.value < 1 else { throw PlanRefusal("the memory reserve must be in [0, 1)") }
        if arch.maxPositions > 0, r.sequenceLength.value > arch.maxPositions {
            throw PlanRefusal("sequence length \(r.sequenceLength.value) exceeds \(r.model.base)'s max_position_embeddings \(arch.maxPositions) (\(r.model.origin)); lower --seq-len or extend the context (e.g. YaRN) and pass that model's config.json")
        }
        if r.method.value == .qlora && r.zeroStage.value != 0 {
            throw PlanRefusal("QLoRA is planned without ZeRO partitioning (--zero 0): 4-bit weights cannot be sharded by DeepSpeed ZeRO-3 without bitsandbytes quant_storage, which trajforge does not model")
        }
        for z in zeroCandidates(r) { if let why = z.invalidReason { throw PlanRefusal("\(z): \(why)") } }
        if let m = r.microBatch?.value, m < 1 { throw PlanRefusal("the micro batch must be at least 1") }

        var notes: [String] = []
        var seq = r.sequenceLength.value
        if let c = r.census, let longest = c.lengths.max {
            if longest < seq {
                notes.append("memory planned for the longest sample, \(longest) tokens (the data's maximum; --seq-len \(seq) is the truncation limit)")
                seq = longest
            }
            let over = c.lengths.countAbove(r.sequenceLength.value)
            if over > 0 {
                notes.append("\(over) sequences are longer than \(r.sequenceLength.value) tokens: the trainers truncate them (LLaMA-Factory cutoff_len, TRL max_length, axolotl sequence_len)")
            }
        }
        let usable = Int(Double(r.gpu.value.memoryBytes) * (1 - r.memoryReserve.value))
        let nodeChoices = r.nodes.map { [$0.value] } ?? Array(1...max(1, r.maxNodes))

        // DPO runs chosen and rejected concatenated (two sequences per example with gradients);
        // KTO one, its KL completion going through a no-grad forward; both keep a frozen reference model.
        let sequencesPerExample = r.stage == .dpo ? 2 : 1
        let minMicro = r.stage == .kto ? 2 : 1
        if r.stage == .kto, let m = r.microBatch?.value, m < 2 {
            throw PlanRefusal("KTO needs a micro batch of at least 2: TRL's KL estimate pairs completions within a per-device batch (KTOTrainer refuses 1)")
        }
        func acts(_ m: Int) -> ActivationMemory {
            MemoryModel.activations(arch, sequenceLength: seq, microBatch: m * sequencesPerExample, gradientCheckpointing: r.gradientCheckpointing.value,
                                    fusedCrossEntropy: r.fusedCrossEntropy.value)
        }
        func states(_ z: ZeroSetup, _ n: Int) -> ModelStateMemory {
            var s = MemoryModel.modelStates(arch, method: r.method.value, zero: z, gpusPerNode: g, nodes: n, loraRank: r.loraRank.value)
            if r.stage != .sft, r.method.value == .full {
                let ref = MemoryModel.referenceModelBytes(arch, zero: z, gpus: n * g)
                s.gpuBytes += ref
                s.source += "; plus the frozen bf16 reference model, \(z.stage == 3 ? "sharded by ZeRO-3 (2/N bytes per parameter)" : "replicated (2 bytes per parameter)"): \(ref) bytes"
                s.exactDeepSpeed = false
            }
            return s
        }
        func cpuFits(_ s: ModelStateMemory) -> Bool {
            guard let limit = r.nodeMemoryBytes, let need = s.cpuBytesPerNode else { return true }
            return need <= limit
        }

        var chosen: (zero: ZeroSetup, nodes: Int, micro: Int, ga: Int, global: Int, states: ModelStateMemory, acts: ActivationMemory)?
        var closest: (zero: ZeroSetup, nodes: Int, states: ModelStateMemory, acts: ActivationMemory)?
        search: for z in zeroCandidates(r) {
            for n in nodeChoices {
                let s = states(z, n)
                let first = r.microBatch?.value ?? minMicro
                let a = acts(first)
                closest = (z, n, s, a)
                guard s.gpuBytes + a.totalBytes <= usable, cpuFits(s) else { continue }
                let dp = n * g
                let perGPU = max((r.globalBatch.value + dp - 1) / dp, minMicro)
                var micro = first
                if r.microBatch == nil {
                    for m in stride(from: perGPU, through: minMicro, by: -1) where perGPU % m == 0 && s.gpuBytes + acts(m).totalBytes <= usable {
                        micro = m
                        break
                    }
                }
                let ga = max(1, (perGPU + micro - 1) / micro)
                chosen = (z, n, micro, ga, dp * micro * ga, s, acts(micro))
                break search
            }
        }
        guard let c = chosen else {
            var why = "\(r.model.name) (\(r.stage.rawValue), \(r.method.value.rawValue)) does not fit \(r.gpu.value.name) GPUs"
            if let cl = closest {
                let unit = sequencesPerExample == 1 ? "one sequence" : "one example (two sequences)"
                why += ": with \(cl.zero) on \(cl.nodes) node(s) x \(g) GPUs, \(unit) of \(seq) tokens needs \(gibText(cl.states.gpuBytes + cl.acts.totalBytes)) per GPU (model states \(gibText(cl.states.gpuBytes)) + activations \(gibText(cl.acts.totalBytes))) but \(gibText(usable)) is usable (\(gibText(r.gpu.value.memoryBytes)) less the \(Int(r.memoryReserve.value * 100))% reserve)"
                if let limit = r.nodeMemoryBytes, let need = cl.states.cpuBytesPerNode, need > limit {
                    why += "; host memory per node: needs \(gibText(need)), has \(gibText(limit))"
                }
            }
            why += ". Options: more nodes (--max-nodes), offload (--offload optimizer|all), a shorter --seq-len, --fused-ce (no logits), or --method lora|qlora."
            throw PlanRefusal(why)
        }
        if c.global != r.globalBatch.value {
            notes.append("global batch \(c.global), not \(r.globalBatch.value): \(c.nodes * g) GPUs x micro batch \(c.micro) x accumulation \(c.ga) is the nearest reachable value at or above the target")
        }
        if c.zero.offloadOptimizer && r.nodeMemoryBytes == nil, let cpu = c.states.cpuBytesPerNode {
            notes.append("offload needs \(gibText(cpu)) of host memory per node (DeepSpeed's estimate); not checked: give --node-memory")
        }
        if c.micro > 1 {
            notes.append("micro batch \(c.micro): samples are padded to the longest in each micro batch; the time estimate counts unpadded tokens")
        }

        // Comparison: ZeRO setups on the chosen node count, and LoRA/QLoRA per GPU at micro batch 1.
        var options: [PlanOption] = []
        let a1 = acts(minMicro)
        let setups: [ZeroSetup] = r.method.value == .full
            ? [ZeroSetup(stage: 0), ZeroSetup(stage: 1), ZeroSetup(stage: 2), ZeroSetup(stage: 2, offloadOptimizer: true),
               ZeroSetup(stage: 3), ZeroSetup(stage: 3, offloadOptimizer: true), ZeroSetup(stage: 3, offloadOptimizer: true, offloadParams: true)]
            : []
        for z in setups {
            var s = MemoryModel.modelStates(arch, method: .full, zero: z, gpusPerNode: g, nodes: c.nodes, loraRank: r.loraRank.value)
            if r.stage != .sft { s.gpuBytes += MemoryModel.referenceModelBytes(arch, zero: z, gpus: c.nodes * g) }
            options.append(PlanOption(label: "full, \(z)", method: .full, zero: z, nodes: c.nodes, gpuBytes: s.gpuBytes + a1.totalBytes,
                                      cpuBytesPerNode: s.cpuBytesPerNode, fits: s.gpuBytes + a1.totalBytes <= usable && cpuFits(s), source: s.source))
        }
        if c.nodes > 1 && r.method.value == .full {
            // Offload on a single node: the paper trained on one node.
            for z in [ZeroSetup(stage: 3, offloadOptimizer: true), ZeroSetup(stage: 3, offloadOptimizer: true, offloadParams: true)] {
                let s = states(z, 1)
                options.append(PlanOption(label: "full, \(z), 1 node", method: .full, zero: z, nodes: 1, gpuBytes: s.gpuBytes + a1.totalBytes,
                                          cpuBytesPerNode: s.cpuBytesPerNode, fits: s.gpuBytes + a1.totalBytes <= usable && cpuFits(s), source: s.source))
            }
        }
        for (method, z) in [(FineTuneMethod.lora, ZeroSetup(stage: 0)), (.lora, ZeroSetup(stage: 3)), (.qlora, ZeroSetup(stage: 0))] {
            let s = MemoryModel.modelStates(arch, method: method, zero: z, gpusPerNode: g, nodes: c.nodes, loraRank: r.loraRank.value)
            options.append(PlanOption(label: "\(method.rawValue) r=\(r.loraRank.value), \(z)", method: method, zero: z, nodes: c.nodes,
                                      gpuBytes: s.gpuBytes + a1.totalBytes, cpuBytesPerNode: s.cpuBytesPerNode,
                                      fits: s.gpuBytes + a1.totalBytes <= usable, source: s.source))
        }

        var plan = TrainingPlan(request: r, zero: c.zero, zeroOrigin: c.zero == ZeroSetup(stage: r.zeroStage.value) ? r.zeroStage.origin : .plan,
                                nodes: c.nodes, nodesOrigin: r.nodes?.origin ?? .plan, microBatch: c.micro, gradientAccumulation: c.ga,
                                globalBatch: c.global, states: c.states, activations: c.acts, memorySequenceLength: seq, usableBytes: usable,
                                options: options, notes: notes)
        if let census = r.census, census.samples > 0 {
            let dp = c.nodes * g
            let batches = (census.samples + c.micro - 1) / c.micro
            let perRank = (batches + dp - 1) / dp
            let steps = max((perRank + c.ga - 1) / c.ga, 1)
            plan.stepsPerEpoch = steps
            plan.totalSteps = Int((r.epochs.value * Double(steps)).rounded(.up))
            let preference = r.stage != .sft
            let dense = (preference ? 8.0 : 6.0) * Double(arch.matmulParameters) * Double(census.tokens)
            let attention = (preference ? 16.0 : 12.0) * Double(arch.layers * arch.heads * arch.headDim) * census.squaredLengthSum
            let flops = dense + attention
            plan.flopsPerEpoch = flops
            plan.secondsPerEpoch = flops / (Double(dp) * r.gpu.value.bf16PeakFLOPS * r.mfu.value)
            if let total = plan.totalSteps, total <= r.warmupSteps.value {
                plan.notes.append("only \(total) optimizer steps in all: the \(r.warmupSteps.value) warmup steps (\(r.warmupSteps.origin.tag)) never finish; lower --warmup-steps")
            }
            if census.unmeasured > 0 {
                plan.notes.append("\(census.unmeasured) records carry no token ids and were not counted (render with --tokenizer for input_ids)")
            }
        } else {
            plan.notes.append("no token counts (--tokens-from): steps per epoch and wall time are not estimated")
        }
        return plan
    }
}
