// Where each training value comes from. The APIGen-MT paper states only a few training facts;
// everything else is a labelled default (ActionStudio, the same team's public config; or a
// framework's own default), a value the planner derived, or one the user gave.

/// The origin of one value in a plan or a config.
public enum Origin: Sendable, Equatable, Hashable {
    /// Stated in APIGen-MT §5.1.
    case paper
    /// A default, with whose default it is (ActionStudio, TRL, trajforge...).
    case byDefault(String)
    /// Derived by the planner (layout, memory, steps).
    case plan
    /// Given on the command line (the option's name).
    case user(String)
    /// Required by the framework or by trajforge's data layout.
    case framework(String)

    /// The short form written as a trailing comment.
    public var tag: String {
        switch self {
        case .paper: "paper"
        case .byDefault(let who): "default: \(who)"
        case .plan: "plan"
        case .user(let option): "user: \(option)"
        case .framework(let why): why
        }
    }

    public var kind: String {
        switch self {
        case .paper: "paper"
        case .byDefault: "default"
        case .plan: "plan"
        case .user: "user"
        case .framework: "framework"
        }
    }
}

/// A value and where it came from.
public struct Sourced<Value: Sendable & Equatable>: Sendable, Equatable {
    public var value: Value
    public var origin: Origin

    public init(_ value: Value, _ origin: Origin) {
        self.value = value
        self.origin = origin
    }
}

/// Training stages the emitters know.
public enum TrainStage: String, Sendable, CaseIterable {
    case sft, dpo, kto
}

/// The xLAM-2-fc-r training recipe: what the paper states and the defaults trajforge uses for
/// what it leaves out.
public enum XLAM2Recipe {
    public static let paper = "APIGen-MT (arXiv 2504.03601v4) §5.1"
    public static let actionStudio = "ActionStudio"
    public static let actionStudioSource = "ActionStudio (arXiv 2503.22673), SalesforceAIResearch/xLAM actionstudio/examples/trainings/model_config_files/xlam_bf16_multi_1.json"

    /// The paper's statements, as the header of every emitted file quotes them.
    public static let paperFacts = [
        "framework LLaMA-Factory; full fine-tuning; DeepSpeed ZeRO stage 3; FlashAttention-2; bf16; AdamW",
        "at most 3 epochs on one NVIDIA H200 node",
        "trajectories split at every assistant reply; loss on the assistant reply only (prompt and other messages masked)",
    ]

    /// What the paper does not state; ActionStudio's public config gives these.
    public static let actionStudioFacts = [
        "learning rate 5e-6, cosine schedule, 100 warmup steps, weight decay 0.01",
        "global batch 48 (1 per GPU x 16 GPUs x 3 accumulation), sequence length 16384",
    ]

    public static let epochs = Sourced(3.0, .paper)
    public static let zeroStage = Sourced(3, .paper)
    public static let sequenceLength = Sourced(16384, .byDefault(actionStudio))
    public static let globalBatch = Sourced(48, .byDefault(actionStudio))
    public static let warmupSteps = Sourced(100, .byDefault(actionStudio))
    public static let weightDecay = Sourced(0.01, .byDefault(actionStudio))
    public static let scheduler = Sourced("cosine", .byDefault(actionStudio))
    public static let sftLearningRate = Sourced(5e-6, .byDefault(actionStudio))
    /// Preference stages: TRL's DPOConfig / KTOConfig defaults (the paper trains no preference stage).
    public static let preferenceLearningRate = Sourced(1e-6, .byDefault("TRL DPOConfig/KTOConfig"))
    public static let preferenceBeta = Sourced(0.1, .byDefault("TRL DPOConfig/KTOConfig"))
    public static let preferenceEpochs = Sourced(1.0, .byDefault("trajforge: one pass over preference data"))
    /// Model FLOPs utilisation assumed for wall-time estimates when none is given.
    public static let mfu = Sourced(0.35, .byDefault("trajforge assumption: typical of ZeRO-3 full fine-tuning at 8-70B on H100"))
    /// Share of GPU memory kept free for the CUDA context, NCCL, allocator fragmentation and
    /// DeepSpeed's communication buckets.
    public static let memoryReserve = Sourced(0.10, .byDefault("trajforge assumption"))
    public static let gpusPerNode = Sourced(8, .byDefault("trajforge: one 8-GPU node"))
    public static let gpu = Sourced("H200-141GB", .paper)
    public static let loraRank = Sourced(16, .byDefault("trajforge (TRL ModelConfig lora_r)"))
}
