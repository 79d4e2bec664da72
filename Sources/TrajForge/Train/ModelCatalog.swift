import ByteJSON

// The model and GPU catalog (recipes/models.json, embedded as CatalogData.swift): the xLAM-2-fc-r
// sizes with their bases and architecture numbers, the GPUs the planner knows, and custom models
// read from a Hugging Face config.json.

/// Which attention projections carry a bias.
public enum AttentionBias: String, Sendable, Equatable {
    /// No bias (Llama, Mistral, Qwen3).
    case none
    /// q, k and v projections (Qwen2 / Qwen2.5).
    case qkv
    /// q, k, v and o projections (Llama with `attention_bias: true`).
    case all
}

/// The numbers of a decoder-only transformer that decide its parameter count and memory.
public struct ModelArchitecture: Sendable, Equatable {
    /// Hugging Face `model_type`: llama, mistral, qwen2 or qwen3.
    public var modelType: String
    public var layers: Int
    public var hidden: Int
    public var intermediate: Int
    public var heads: Int
    public var kvHeads: Int
    /// Per-head dimension (config `head_dim`, else hidden / heads).
    public var headDim: Int
    public var vocab: Int
    public var tiedEmbeddings: Bool
    public var maxPositions: Int
    public var attentionBias: AttentionBias
    public var mlpBias: Bool
    /// Qwen3: RMSNorm on q and k per head (2 × head_dim parameters per layer).
    public var qkNorm: Bool
    public var ropeTheta: Double?
    public var rmsNormEps: Double?

    public static let supportedModelTypes = ["llama", "mistral", "qwen2", "qwen3"]

    public init(modelType: String, layers: Int, hidden: Int, intermediate: Int, heads: Int, kvHeads: Int, headDim: Int? = nil,
                vocab: Int, tiedEmbeddings: Bool, maxPositions: Int, attentionBias: AttentionBias, mlpBias: Bool = false,
                qkNorm: Bool = false, ropeTheta: Double? = nil, rmsNormEps: Double? = nil)
    {
        self.modelType = modelType
        self.layers = layers
        self.hidden = hidden
        self.intermediate = intermediate
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim ?? (heads > 0 ? hidden / heads : 0)
        self.vocab = vocab
        self.tiedEmbeddings = tiedEmbeddings
        self.maxPositions = maxPositions
        self.attentionBias = attentionBias
        self.mlpBias = mlpBias
        self.qkNorm = qkNorm
        self.ropeTheta = ropeTheta
        self.rmsNormEps = rmsNormEps
    }

    // MARK: parameter count

    /// Parameters of one projection `inDim → outDim` with an optional bias.
    static func linear(_ inDim: Int, _ outDim: Int, bias: Bool) -> Int { inDim * outDim + (bias ? outDim : 0) }

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    /// The modules of one decoder layer and their parameter counts, in Hugging Face's order.
    public var layerModules: [(name: String, parameters: Int)] {
        let qkvBias = attentionBias != .none
        var m: [(String, Int)] = [
            ("self_attn.q_proj", Self.linear(hidden, qDim, bias: qkvBias)),
            ("self_attn.k_proj", Self.linear(hidden, kvDim, bias: qkvBias)),
            ("self_attn.v_proj", Self.linear(hidden, kvDim, bias: qkvBias)),
            ("self_attn.o_proj", Self.linear(qDim, hidden, bias: attentionBias == .all)),
        ]
        if qkNorm { m += [("self_attn.q_norm", headDim), ("self_attn.k_norm", headDim)] }
        m += [
            ("mlp.gate_proj", Self.linear(hidden, intermediate, bias: mlpBias)),
            ("mlp.up_proj", Self.linear(hidden, intermediate, bias: mlpBias)),
            ("mlp.down_proj", Self.linear(intermediate, hidden, bias: mlpBias)),
            ("input_layernorm", hidden),
            ("post_attention_layernorm", hidden),
        ]
        return m
    }

    public var parametersPerLayer: Int { layerModules.reduce(0) { $0 + $1.parameters } }
    public var embeddingParameters: Int { vocab * hidden }
    /// The output projection's own parameters (0 when tied to the embedding).
    public var lmHeadParameters: Int { tiedEmbeddings ? 0 : vocab * hidden }

    /// Every parameter, counted once (a tied output projection shares the embedding's).
    public var parameters: Int {
        embeddingParameters + layers * parametersPerLayer + hidden /* final norm */ + lmHeadParameters
    }

    /// The largest single module (what DeepSpeed's `model_to_params` calls the largest layer):
    /// the embedding for every model here.
    public var largestLayerParameters: Int {
        max(embeddingParameters, layerModules.map(\.parameters).max() ?? 0)
    }

    /// Parameters that take part in a matrix multiply per token: all but the embedding lookup,
    /// with a tied output projection counted as the matmul it still is.
    public var matmulParameters: Int { parameters - embeddingParameters + vocab * hidden }

    /// Parameters in the linear layers of the decoder blocks (what LoRA adapts and QLoRA quantizes).
    public var blockLinearParameters: Int {
        layers * layerModules.filter { $0.name.hasSuffix("_proj") }.reduce(0) { $0 + $1.parameters }
    }

    /// Sum of (in + out) over the seven linear projections of one layer: LoRA of rank r adds r × this.
    public var loraWidthPerLayer: Int {
        (hidden + qDim) + 2 * (hidden + kvDim) + (qDim + hidden) + 2 * (hidden + intermediate) + (intermediate + hidden)
    }

    // MARK: JSON

    public var json: JSON {
        var o = JSONObject()
        o["model_type"] = .string(modelType)
        o["layers"] = .number(JSONNumber(layers))
        o["hidden"] = .number(JSONNumber(hidden))
        o["intermediate"] = .number(JSONNumber(intermediate))
        o["heads"] = .number(JSONNumber(heads))
        o["kv_heads"] = .number(JSONNumber(kvHeads))
        o["head_dim"] = .number(JSONNumber(headDim))
        o["vocab"] = .number(JSONNumber(vocab))
        o["tied_embeddings"] = .bool(tiedEmbeddings)
        o["max_positions"] = .number(JSONNumber(maxPositions))
        o["attention_bias"] = .string(attentionBias.rawValue)
        o["mlp_bias"] = .bool(mlpBias)
        if qkNorm { o["qk_norm"] = true }
        return .object(o)
    }

    /// Reads the catalog's architecture object.
    init(catalog j: JSON, at path: String) throws(CatalogError) {
        func int(_ key: String) throws(CatalogError) -> Int {
            guard let v = j[key]?.int, v > 0 else { throw CatalogError("\(path).\(key): expected a positive integer") }
            return v
        }
        guard let type = j["model_type"]?.string, Self.supportedModelTypes.contains(type) else {
            throw CatalogError("\(path).model_type: expected one of \(Self.supportedModelTypes.joined(separator: ", "))")
        }
        guard let tied = j["tied_embeddings"]?.bool else { throw CatalogError("\(path).tied_embeddings: expected true or false") }
        guard let biasText = j["attention_bias"]?.string, let bias = AttentionBias(rawValue: biasText) else {
            throw CatalogError("\(path).attention_bias: expected none, qkv or all")
        }
        let heads = try int("heads")
        let headDim: Int? = j["head_dim"] == nil ? nil : try int("head_dim")
        self.init(modelType: type, layers: try int("layers"), hidden: try int("hidden"), intermediate: try int("intermediate"),
                  heads: heads, kvHeads: try int("kv_heads"), headDim: headDim, vocab: try int("vocab"), tiedEmbeddings: tied,
                  maxPositions: try int("max_positions"), attentionBias: bias, mlpBias: j["mlp_bias"]?.bool ?? false,
                  qkNorm: j["qk_norm"]?.bool ?? (type == "qwen3"), ropeTheta: j["rope_theta"]?.double, rmsNormEps: j["rms_norm_eps"]?.double)
        if headDim == nil, hidden % heads != 0 { throw CatalogError("\(path): hidden \(hidden) is not a multiple of heads \(heads); give head_dim") }
        if heads % kvHeads != 0 { throw CatalogError("\(path): heads \(heads) is not a multiple of kv_heads \(kvHeads)") }
    }

    /// Reads a Hugging Face `config.json` (llama, mistral, qwen2, qwen3).
    public init(hfConfig j: JSON, path: String = "config.json") throws(CatalogError) {
        guard case .object = j else { throw CatalogError("\(path): not a JSON object") }
        guard let type = j["model_type"]?.string else { throw CatalogError("\(path): no model_type") }
        guard Self.supportedModelTypes.contains(type) else {
            throw CatalogError("\(path): model_type \(type) is not supported (supported: \(Self.supportedModelTypes.joined(separator: ", ")); dense decoder-only models)")
        }
        func int(_ key: String) throws(CatalogError) -> Int {
            guard let v = j[key]?.int, v > 0 else { throw CatalogError("\(path): \(key) is missing or not a positive integer") }
            return v
        }
        let heads = try int("num_attention_heads")
        let kv = j["num_key_value_heads"]?.int ?? heads
        var headDim: Int? = nil
        if let d = j["head_dim"]?.int { headDim = d }
        let bias: AttentionBias
        switch type {
        case "qwen2": bias = .qkv
        case "llama": bias = (j["attention_bias"]?.bool ?? false) ? .all : .none
        case "qwen3": bias = (j["attention_bias"]?.bool ?? false) ? .all : .none
        default: bias = .none
        }
        self.init(modelType: type, layers: try int("num_hidden_layers"), hidden: try int("hidden_size"),
                  intermediate: try int("intermediate_size"), heads: heads, kvHeads: kv, headDim: headDim,
                  vocab: try int("vocab_size"), tiedEmbeddings: j["tie_word_embeddings"]?.bool ?? false,
                  maxPositions: j["max_position_embeddings"]?.int ?? 0, attentionBias: bias, mlpBias: j["mlp_bias"]?.bool ?? false,
                  qkNorm: type == "qwen3", ropeTheta: j["rope_theta"]?.double, rmsNormEps: j["rms_norm_eps"]?.double)
        if headDim == nil, hidden % heads != 0 { throw CatalogError("\(path): hidden_size is not a multiple of num_attention_heads; head_dim is needed") }
    }
}

/// One model the planner and the emitters know.
public struct ModelEntry: Sendable, Equatable {
    /// 1b, 3b, 8b, 32b, 70b; "custom" for a config.json.
    public var size: String
    /// The released model's name (xLAM-2-1b-fc-r), or the folder's name for a custom model.
    public var name: String
    /// The released Hugging Face id (nil for a custom model).
    public var released: String?
    /// What training starts from: a Hugging Face id or a local folder.
    public var base: String
    public var baseEvidence: String
    /// Other bases with the same architecture (70b: Llama 3.3).
    public var alternatives: [String]
    /// trajforge built-in chat template name (xlam2-llama, xlam2-qwen), or a template path.
    public var template: String
    /// LLaMA-Factory's template name for this family.
    public var llamaFactoryTemplate: String
    public var architecture: ModelArchitecture
    /// Where the entry came from (the catalog, or a config.json path).
    public var origin: String

    public init(size: String, name: String, released: String?, base: String, baseEvidence: String, alternatives: [String],
                template: String, llamaFactoryTemplate: String, architecture: ModelArchitecture, origin: String)
    {
        self.size = size
        self.name = name
        self.released = released
        self.base = base
        self.baseEvidence = baseEvidence
        self.alternatives = alternatives
        self.template = template
        self.llamaFactoryTemplate = llamaFactoryTemplate
        self.architecture = architecture
        self.origin = origin
    }

    public var parameters: Int { architecture.parameters }

    /// A custom entry from a model's config.json (a file, or a folder holding one).
    public static func fromConfig(path: String, template: String?, llamaFactoryTemplate: String?) throws -> ModelEntry {
        let file = isDirectory(path) ? joinPath(path, "config.json") : path
        guard let bytes = try readWholeFile(file) else { throw CatalogError("\(file): no such file") }
        let json: JSON
        do { json = try JSON.parse(bytes) } catch { throw CatalogError("\(file): not JSON: \(error)") }
        let arch = try ModelArchitecture(hfConfig: json, path: file)
        let family = arch.modelType.hasPrefix("qwen") ? "qwen" : (arch.modelType == "llama" ? "llama" : arch.modelType)
        let folder = isDirectory(path) ? path : String(path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        // The folder's name for <folder>/config.json; else the file's name without .json / .config.json.
        var name = folder.split(separator: "/").last.map(String.init) ?? "custom"
        if !isDirectory(path), let file = path.split(separator: "/").last.map(String.init), file != "config.json" {
            name = file
            for suffix in [".json", ".config"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        }
        let defaultTemplate = family == "qwen" ? "xlam2-qwen" : "xlam2-llama"
        let defaultLF: String = switch arch.modelType {
        case "qwen2": "qwen"
        case "qwen3": "qwen3"
        case "mistral": "mistral"
        default: "llama3"
        }
        return ModelEntry(size: "custom", name: name.isEmpty ? "custom" : name, released: nil, base: folder.isEmpty ? "." : folder,
                          baseEvidence: "custom: read from \(file)", alternatives: [], template: template ?? defaultTemplate,
                          llamaFactoryTemplate: llamaFactoryTemplate ?? defaultLF, architecture: arch, origin: file)
    }
}

/// A GPU the planner knows: memory and dense bf16 peak.
public struct GPUSpec: Sendable, Equatable {
    public var name: String
    public var aliases: [String]
    public var memoryBytes: Int
    public var bf16PeakFLOPS: Double
    public var source: String

    public init(name: String, aliases: [String] = [], memoryBytes: Int, bf16PeakFLOPS: Double, source: String) {
        self.name = name
        self.aliases = aliases
        self.memoryBytes = memoryBytes
        self.bf16PeakFLOPS = bf16PeakFLOPS
        self.source = source
    }
}

public struct CatalogError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The catalog: models by size and GPUs by name.
public struct ModelCatalog: Sendable {
    public var models: [ModelEntry]
    public var gpus: [GPUSpec]
    /// Where it was read from ("built-in (recipes/models.json)" or a path).
    public var origin: String

    /// The catalog compiled into trajforge (recipes/models.json at build time).
    public static let builtin: ModelCatalog = {
        do { return try ModelCatalog(bytes: Array(CatalogData.modelsJSON.utf8), origin: "built-in catalog (recipes/models.json)") } catch {
            fatalError("the built-in catalog is invalid: \(error)")
        }
    }()

    public static func load(path: String) throws -> ModelCatalog {
        guard let bytes = try readWholeFile(path) else { throw CatalogError("\(path): no such file") }
        return try ModelCatalog(bytes: bytes, origin: path)
    }

    public init(bytes: [UInt8], origin: String) throws(CatalogError) {
        let json: JSON
        do { json = try JSON.parse(bytes) } catch { throw CatalogError("\(origin): not JSON: \(error)") }
        guard json["catalog_version"]?.int == 1 else { throw CatalogError("\(origin): catalog_version must be 1") }
        guard case .array(let list)? = json["models"] else { throw CatalogError("\(origin): \"models\" must be a list") }
        var models: [ModelEntry] = []
        for (k, m) in list.enumerated() {
            let at = "models[\(k)]"
            func string(_ key: String) throws(CatalogError) -> String {
                guard let s = m[key]?.string, !s.isEmpty else { throw CatalogError("\(origin): \(at).\(key): expected a string") }
                return s
            }
            guard let archJSON = m["architecture"] else { throw CatalogError("\(origin): \(at).architecture is missing") }
            let arch = try ModelArchitecture(catalog: archJSON, at: "\(origin): \(at).architecture")
            let entry = ModelEntry(size: try string("size"), name: try string("name"), released: m["released"]?.string,
                                   base: try string("base"), baseEvidence: m["base_evidence"]?.string ?? "",
                                   alternatives: m["alternatives"]?.array?.compactMap(\.string) ?? [],
                                   template: try string("template"), llamaFactoryTemplate: try string("llamafactory_template"),
                                   architecture: arch, origin: origin)
            if let stated = m["parameters"]?.int, stated != arch.parameters {
                throw CatalogError("\(origin): \(at) (\(entry.size)): parameters says \(stated) but the architecture gives \(arch.parameters)")
            }
            if models.contains(where: { $0.size == entry.size }) { throw CatalogError("\(origin): size \(entry.size) appears twice") }
            models.append(entry)
        }
        var gpus: [GPUSpec] = []
        for (k, g) in (json["gpus"]?.array ?? []).enumerated() {
            guard let name = g["name"]?.string, let mib = g["memory_mib"]?.int, mib > 0, let tf = g["bf16_dense_tflops"]?.double, tf > 0 else {
                throw CatalogError("\(origin): gpus[\(k)] needs name, memory_mib and bf16_dense_tflops")
            }
            gpus.append(GPUSpec(name: name, aliases: g["aliases"]?.array?.compactMap(\.string) ?? [], memoryBytes: mib << 20,
                                bf16PeakFLOPS: tf * 1e12, source: g["source"]?.string ?? origin))
        }
        self.models = models
        self.gpus = gpus
        self.origin = origin
    }

    public var sizes: [String] { models.map(\.size) }

    public func model(size: String) -> ModelEntry? { models.first { $0.size == size.lowercased() } }

    /// A GPU by name or alias (case-insensitive).
    public func gpu(named name: String) -> GPUSpec? {
        let key = name.lowercased()
        return gpus.first { $0.name.lowercased() == key || $0.aliases.contains(key) }
    }
}
