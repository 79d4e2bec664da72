// Per-GPU memory of a training setup: model states (DeepSpeed's own estimators for ZeRO-2/3, the
// same byte accounting for ZeRO-0/1, adapters for LoRA/QLoRA) plus activations for one micro batch.

public enum FineTuneMethod: String, Sendable, CaseIterable {
    /// Every parameter trained (the paper's recipe).
    case full
    /// Low-rank adapters on every decoder linear layer; the bf16 base is frozen.
    case lora
    /// LoRA over a base quantized to 4-bit NF4 with double quantization.
    case qlora
}

/// A DeepSpeed ZeRO configuration.
public struct ZeroSetup: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var stage: Int
    public var offloadOptimizer: Bool
    public var offloadParams: Bool

    public init(stage: Int, offloadOptimizer: Bool = false, offloadParams: Bool = false) {
        self.stage = stage
        self.offloadOptimizer = offloadOptimizer
        self.offloadParams = offloadParams
    }

    public var description: String {
        var s = "ZeRO-\(stage)"
        if offloadOptimizer && offloadParams { s += " + optimizer and parameter offload" } else if offloadOptimizer { s += " + optimizer offload" }
        return s
    }

    /// Why this setup is not possible, or nil.
    public var invalidReason: String? {
        if !(0...3).contains(stage) { return "ZeRO stage must be 0, 1, 2 or 3" }
        if offloadParams && stage != 3 { return "parameter offload needs ZeRO-3" }
        if offloadParams && !offloadOptimizer { return "DeepSpeed's estimators cover parameter offload only with optimizer offload" }
        if offloadOptimizer && stage < 2 { return "optimizer offload is planned for ZeRO-2 and ZeRO-3 only (DeepSpeed's estimators)" }
        return nil
    }
}

/// Memory of the model states (parameters, gradients, optimizer states) per GPU and per node.
public struct ModelStateMemory: Sendable, Equatable {
    public var gpuBytes: Int
    /// Host memory per node (nil where no estimate exists).
    public var cpuBytesPerNode: Int?
    public var source: String
    /// True when the figure is DeepSpeed's own estimator's output.
    public var exactDeepSpeed: Bool
}

/// Activation memory of one micro batch on one GPU.
public struct ActivationMemory: Sendable, Equatable {
    /// Layer inputs kept by gradient checkpointing (0 without it).
    public var checkpointBytes: Int
    /// Activations of the layers held for backward: one layer (recomputed) with checkpointing, all without.
    public var layerBytes: Int
    /// Logits and the loss's fp32 copies (0 with a fused cross-entropy kernel).
    public var logitsBytes: Int
    public var totalBytes: Int { checkpointBytes + layerBytes + logitsBytes }
    public var source: String
}

public enum MemoryModel {
    public static let activationSource = "trajforge estimate: Korthikanti et al. 2022 (arXiv 2205.05198) activation accounting adapted to RMSNorm (fp32 upcast), GQA, SwiGLU and FlashAttention-2 (no s^2 scores), bf16"
    public static let logitsSource = "bf16 logits + fp32 upcast + fp32 log-softmax kept for backward: 10 bytes per token per vocabulary entry (HF transformers ForCausalLMLoss)"

    /// Model-state memory for `method` under `zero` on `gpusPerNode` x `nodes` GPUs.
    public static func modelStates(_ arch: ModelArchitecture, method: FineTuneMethod, zero: ZeroSetup, gpusPerNode: Int, nodes: Int,
                                   loraRank: Int) -> ModelStateMemory
    {
        let p = arch.parameters
        let n = gpusPerNode * nodes
        switch method {
        case .full:
            switch zero.stage {
            case 3:
                let e = DeepSpeedEstimator.zero3(totalParams: p, largestLayerParams: arch.largestLayerParameters, gpusPerNode: gpusPerNode,
                                                 nodes: nodes, offloadOptimizer: zero.offloadOptimizer, offloadParams: zero.offloadParams,
                                                 zeroInit: true)
                return ModelStateMemory(gpuBytes: e.gpuBytes, cpuBytesPerNode: e.cpuBytes,
                                        source: "\(DeepSpeedEstimator.version) estimate_zero3_model_states_mem_needs(total_params=\(p), largest_layer_params=\(arch.largestLayerParameters), num_gpus_per_node=\(gpusPerNode), num_nodes=\(nodes), cpu_offload=\(py(zero.offloadOptimizer)), cpu_offload_params=\(py(zero.offloadParams)), zero_init=True, additional_buffer_factor=1.5)",
                                        exactDeepSpeed: true)
            case 2:
                let e = DeepSpeedEstimator.zero2(totalParams: p, gpusPerNode: gpusPerNode, nodes: nodes, cpuOffload: zero.offloadOptimizer)
                return ModelStateMemory(gpuBytes: e.gpuBytes, cpuBytesPerNode: e.cpuBytes,
                                        source: "\(DeepSpeedEstimator.version) estimate_zero2_model_states_mem_needs(total_params=\(p), num_gpus_per_node=\(gpusPerNode), num_nodes=\(nodes), cpu_offload=\(py(zero.offloadOptimizer)), additional_buffer_factor=1.5)",
                                        exactDeepSpeed: true)
            case 1:
                return ModelStateMemory(gpuBytes: 4 * p + DeepSpeedEstimator.pyInt(DeepSpeedEstimator.trueDivide(16 * p, n)), cpuBytesPerNode: nil,
                                        source: "DeepSpeed's ZeRO-2 byte accounting (2 bf16 params + 18 per param: bf16 grads 2, fp32 grads 4, fp32 params 4, Adam 8) with the bf16 gradients not partitioned: 4 + 16/N bytes per parameter",
                                        exactDeepSpeed: false)
            default:
                return ModelStateMemory(gpuBytes: 20 * p, cpuBytesPerNode: nil,
                                        source: "DeepSpeed's ZeRO-2 byte accounting with nothing partitioned: 2 + 18 = 20 bytes per parameter",
                                        exactDeepSpeed: false)
            }
        case .lora, .qlora:
            let trainable = loraParameters(arch, rank: loraRank)
            let base: Int
            let baseText: String
            if method == .lora {
                base = 2 * p
                baseText = "frozen bf16 base 2 bytes/param"
            } else {
                base = qloraBaseBytes(arch)
                baseText = "frozen base: decoder linears NF4 with double quantization (0.5 + 1/64 + 4/16384 bytes/param, QLoRA: Dettmers et al. 2023), embeddings, output projection and norms bf16"
            }
            if zero.stage == 3 && method == .lora {
                let gather = 4 * arch.largestLayerParameters
                return ModelStateMemory(gpuBytes: gather + DeepSpeedEstimator.pyInt(DeepSpeedEstimator.trueDivide(base + 20 * trainable, n)),
                                        cpuBytesPerNode: nil,
                                        source: "\(baseText), partitioned over \(n) GPUs by ZeRO-3 with a 4 x largest-layer gather buffer; adapters rank \(loraRank): \(trainable) params x 20 bytes (DeepSpeed's 2 + 18)",
                                        exactDeepSpeed: false)
            }
            return ModelStateMemory(gpuBytes: base + 20 * trainable, cpuBytesPerNode: nil,
                                    source: "\(baseText), replicated on every GPU; adapters rank \(loraRank): \(trainable) params x 20 bytes (DeepSpeed's 2 + 18)",
                                    exactDeepSpeed: false)
        }
    }

    /// A frozen bf16 reference model (DPO, KTO with full fine-tuning): sharded under ZeRO-3.
    public static func referenceModelBytes(_ arch: ModelArchitecture, zero: ZeroSetup, gpus: Int) -> Int {
        zero.stage == 3 ? DeepSpeedEstimator.pyInt(DeepSpeedEstimator.trueDivide(2 * arch.parameters, gpus)) : 2 * arch.parameters
    }

    /// LoRA parameters of rank `rank` on the seven decoder linear layers.
    public static func loraParameters(_ arch: ModelArchitecture, rank: Int) -> Int {
        arch.layers * rank * arch.loraWidthPerLayer
    }

    /// Bytes of a QLoRA base: NF4 decoder linears with double quantization, the rest bf16.
    public static func qloraBaseBytes(_ arch: ModelArchitecture) -> Int {
        let quantized = arch.blockLinearParameters
        let rest = arch.parameters - quantized
        // 4 bits per weight; one 8-bit absmax per 64 weights; one fp32 constant per 256 absmax.
        let nf4 = quantized / 2 + quantized / 64 + (quantized / (64 * 256)) * 4
        return nf4 + 2 * rest
    }

    /// Activation memory per GPU for one micro batch of `microBatch` sequences of `sequenceLength` tokens.
    public static func activations(_ arch: ModelArchitecture, sequenceLength s: Int, microBatch b: Int, gradientCheckpointing: Bool,
                                   fusedCrossEntropy: Bool) -> ActivationMemory
    {
        let tokens = s * b
        let perLayer = tokens * layerBytesPerToken(arch)
        let logits = fusedCrossEntropy ? 0 : tokens * arch.vocab * 10
        if gradientCheckpointing {
            return ActivationMemory(checkpointBytes: arch.layers * tokens * arch.hidden * 2, layerBytes: perLayer, logitsBytes: logits,
                                    source: activationSource + "; gradient checkpointing keeps each layer's bf16 input and recomputes one layer at a time; " + (fusedCrossEntropy ? "fused cross-entropy: no logits" : logitsSource))
        }
        return ActivationMemory(checkpointBytes: 0, layerBytes: arch.layers * perLayer, logitsBytes: logits,
                                source: activationSource + "; no gradient checkpointing: every layer's activations kept; " + (fusedCrossEntropy ? "fused cross-entropy: no logits" : logitsSource))
    }

    /// Bytes one decoder layer keeps for backward per token: attention block (fp32 norm input 4h,
    /// normed input 2h, q 2q, k and v 4kv, attention output 2q, softmax statistics 4 per head,
    /// output 2h) and MLP block (fp32 norm input 4h, normed input 2h, gate, up, activation and
    /// product 8i, output 2h).
    public static func layerBytesPerToken(_ a: ModelArchitecture) -> Int {
        let attention = 4 * a.hidden + 2 * a.hidden + 2 * a.qDim + 4 * a.kvDim + 2 * a.qDim + 4 * a.heads + 2 * a.hidden
        let mlp = 4 * a.hidden + 2 * a.hidden + 8 * a.intermediate + 2 * a.hidden
        return attention + mlp
    }

    static func py(_ b: Bool) -> String { b ? "True" : "False" }
}
