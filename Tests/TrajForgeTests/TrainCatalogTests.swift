import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// The golden DeepSpeed estimator outputs in ../shared (deepspeed 0.19.8, generated on CPU).
enum DeepSpeedGolden {
    static let path = Paths.shared + "/golden/deepspeed-zero-estimates.json"
    static let tablesPath = Paths.shared + "/golden/deepspeed-zero-estimates.tables.txt"
    /// Golden model names for each catalog size.
    static let names = ["1b": "Qwen2.5-1.5B", "3b": "Qwen2.5-3B", "8b": "Llama-3.1-8B", "32b": "Qwen2.5-32B", "70b": "Llama-3.3-70B"]

    static func load() throws -> JSON { try JSON.parse(try readBytes(path)) }
}

@Suite struct TrainCatalogTests {
    let catalog = ModelCatalog.builtin

    @Test func fiveSizesWithTheirBasesAndTemplates() {
        #expect(catalog.sizes == ["1b", "3b", "8b", "32b", "70b"])
        let expected: [String: (String, String, String)] = [
            "1b": ("Qwen/Qwen2.5-1.5B-Instruct", "xlam2-qwen", "qwen"),
            "3b": ("Qwen/Qwen2.5-3B-Instruct", "xlam2-qwen", "qwen"),
            "8b": ("meta-llama/Llama-3.1-8B-Instruct", "xlam2-llama", "llama3"),
            "32b": ("Qwen/Qwen2.5-32B-Instruct", "xlam2-qwen", "qwen"),
            "70b": ("meta-llama/Llama-3.1-70B-Instruct", "xlam2-llama", "llama3"),
        ]
        for m in catalog.models {
            let e = expected[m.size]!
            #expect(m.base == e.0)
            #expect(m.template == e.1)
            #expect(BuiltinTemplate.named(m.template) != nil, "\(m.template) must be a trajforge built-in template")
            #expect(m.llamaFactoryTemplate == e.2)
        }
        #expect(catalog.model(size: "70b")!.alternatives == ["meta-llama/Llama-3.3-70B-Instruct"])
    }

    @Test func parameterCountsMatchTheGoldenInputsExactly() throws {
        let golden = try DeepSpeedGolden.load()
        let rounded = ["1b": "1.54", "3b": "3.09", "8b": "8.03", "32b": "32.76", "70b": "70.55"]
        for m in catalog.models {
            let inputs = try #require(golden["inputs"]?[DeepSpeedGolden.names[m.size]!]?.array)
            #expect(m.architecture.parameters == inputs[0].int, "\(m.size) total parameters")
            #expect(m.architecture.largestLayerParameters == inputs[1].int, "\(m.size) largest layer")
            #expect(String(format: "%.2f", Double(m.architecture.parameters) / 1e9) == rounded[m.size])
        }
    }

    @Test func parameterBreakdownOfLlama8B() {
        let a = catalog.model(size: "8b")!.architecture
        #expect(a.headDim == 128)
        #expect(a.embeddingParameters == 525_336_576)
        #expect(a.lmHeadParameters == 525_336_576)
        #expect(a.parametersPerLayer == 218_112_000)
        #expect(a.embeddingParameters + 32 * 218_112_000 + 4096 + a.lmHeadParameters == a.parameters)
        // Tied Qwen2.5-1.5B: the output projection shares the embedding, so it adds no parameters
        // but still counts as a matmul.
        let q = catalog.model(size: "1b")!.architecture
        #expect(q.lmHeadParameters == 0)
        #expect(q.matmulParameters == q.parameters)
        #expect(a.matmulParameters == a.parameters - a.embeddingParameters + a.vocab * a.hidden)
    }

    @Test func embeddedCatalogIsTheRecipesFile() throws {
        let file = try readBytes(Paths.repo.appendingPathComponent("recipes/models.json").path)
        #expect(Array(CatalogData.modelsJSON.utf8) + [0x0A] == file, "run tools/train/embed_catalog.sh after editing recipes/models.json")
    }

    @Test func gpuCatalog() {
        let h100 = catalog.gpu(named: "h100")!
        #expect(h100.name == "H100-80GB")
        #expect(h100.memoryBytes == 81559 << 20)
        #expect(h100.bf16PeakFLOPS == 989.5e12)
        #expect(catalog.gpu(named: "H200")!.memoryBytes == 143771 << 20)
        #expect(catalog.gpu(named: "a100")!.bf16PeakFLOPS == 312e12)
        #expect(catalog.gpu(named: "tpu") == nil)
    }

    @Test func customEntriesFromConfigJSON() throws {
        let qwen = try ModelEntry.fromConfig(path: Paths.fixture("train/qwen2.5-1.5b-instruct.config.json"), template: nil, llamaFactoryTemplate: nil)
        #expect(qwen.architecture.withoutCatalogOnlyFields == catalog.model(size: "1b")!.architecture.withoutCatalogOnlyFields)
        #expect(qwen.parameters == 1_543_714_304)
        #expect(qwen.template == "xlam2-qwen")
        #expect(qwen.size == "custom")
        #expect(qwen.name == "qwen2.5-1.5b-instruct")
        let llama = try ModelEntry.fromConfig(path: Paths.fixture("train/llama-3.1-8b-instruct.config.json"), template: nil, llamaFactoryTemplate: nil)
        #expect(llama.parameters == 8_030_261_248)
        #expect(llama.template == "xlam2-llama")
        #expect(llama.llamaFactoryTemplate == "llama3")
        // Qwen3: explicit head_dim, per-head q/k norms, no bias; Qwen3-8B has 8,190,735,360 parameters.
        let qwen3 = try ModelEntry.fromConfig(path: Paths.fixture("train/qwen3-8b.config.json"), template: "qwen2.5", llamaFactoryTemplate: nil)
        #expect(qwen3.architecture.qkNorm)
        #expect(qwen3.architecture.headDim == 128)
        #expect(qwen3.parameters == 8_190_735_360)
        #expect(qwen3.template == "qwen2.5")
        #expect(qwen3.llamaFactoryTemplate == "qwen3")
    }

    @Test func unsupportedOrInconsistentEntriesAreRefused() throws {
        #expect(throws: CatalogError.self) {
            try ModelEntry.fromConfig(path: Paths.fixture("train/mixtral.config.json"), template: nil, llamaFactoryTemplate: nil)
        }
        var text = CatalogData.modelsJSON
        text = text.replacingOccurrences(of: "\"parameters\": 8030261248", with: "\"parameters\": 8030261249")
        do {
            _ = try ModelCatalog(bytes: Array(text.utf8), origin: "edited")
            Issue.record("a stated count that disagrees with the architecture must be refused")
        } catch {
            #expect(error.message.contains("parameters says 8030261249 but the architecture gives 8030261248"))
        }
    }
}

extension ModelArchitecture {
    /// A config.json carries rope and norm constants too; compare the counting numbers only.
    var withoutCatalogOnlyFields: ModelArchitecture {
        var a = self
        a.ropeTheta = nil
        a.rmsNormEps = nil
        return a
    }
}
