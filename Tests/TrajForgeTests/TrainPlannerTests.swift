import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite struct TrainPlannerTests {
    let catalog = ModelCatalog.builtin

    func request(_ size: String, gpu: String = "h100", stage: TrainStage = .sft) -> PlanRequest {
        var r = PlanRequest(model: catalog.model(size: size)!, gpu: Sourced(catalog.gpu(named: gpu)!, .user("--gpu")))
        r.stage = stage
        return r
    }

    @Test func eightBFitsOneH100NodeAtTheDefaults() throws {
        let plan = try Planner.plan(request("8b"))
        #expect(plan.nodes == 1)
        #expect(plan.zero == ZeroSetup(stage: 3))
        #expect(plan.zeroOrigin == .paper)
        // DeepSpeed's own figure (golden: Llama-3.1-8B/gpus8/z3_off00_zi1).
        #expect(plan.states.gpuBytes == 20_169_434_112)
        #expect(plan.states.cpuBytesPerNode == 25_216_155_648)
        #expect(plan.states.exactDeepSpeed)
        #expect(plan.gpus * plan.microBatch * plan.gradientAccumulation == 48)
        #expect(plan.globalBatch == 48)
        #expect(plan.gpuBytes <= plan.usableBytes)
        #expect(plan.usableBytes == Int(Double(81559 << 20) * 0.9))
    }

    @Test func seventyBNeedsSeveralH100NodesAndThePlanSaysHowMany() throws {
        let plan = try Planner.plan(request("70b"))
        #expect(plan.nodes > 1)
        #expect(plan.zero == ZeroSetup(stage: 3))
        #expect(plan.nodesOrigin == .plan)
        // One node fewer does not fit: the planner took the fewest.
        var r = request("70b")
        r.nodes = Sourced(plan.nodes - 1, .user("--nodes"))
        r.offload = Sourced(.none, .user("--offload"))
        #expect(throws: PlanRefusal.self) { try Planner.plan(r) }
        #expect(plan.text.contains("layout              \(plan.nodes) node(s) x 8 GPUs = \(plan.gpus) GPUs"))
    }

    @Test func refusalSaysWhy() throws {
        var r = request("70b")
        r.nodes = Sourced(1, .user("--nodes"))
        r.offload = Sourced(.none, .user("--offload"))
        do {
            _ = try Planner.plan(r)
            Issue.record("70b on one H100 node without offload must be refused")
        } catch {
            #expect(error.reason.contains("does not fit H100-80GB"))
            #expect(error.reason.contains("ZeRO-3 on 1 node(s) x 8 GPUs"))
            #expect(error.reason.contains("model states 151.76 GiB"))
            #expect(error.reason.contains("71.68 GiB is usable"))
        }
        var long = request("1b")
        long.sequenceLength = Sourced(65536, .user("--seq-len"))
        #expect(throws: PlanRefusal.self) { try Planner.plan(long) }
        var qlora = request("8b")
        qlora.method = Sourced(.qlora, .user("--method"))
        #expect(throws: PlanRefusal.self) { try Planner.plan(qlora) }  // ZeRO-3 with QLoRA
    }

    @Test func thePapersSingleH200NodeNeedsOffloadFor70B() throws {
        var r = request("70b", gpu: "h200")
        r.nodes = Sourced(1, .user("--nodes"))
        let plan = try Planner.plan(r)
        #expect(plan.zero == ZeroSetup(stage: 3, offloadOptimizer: true))
        #expect(plan.zeroOrigin == .plan)
        let ds = DeepSpeedEstimator.zero3(totalParams: 70_553_706_496, largestLayerParams: 1_050_673_152, gpusPerNode: 8, nodes: 1,
                                          offloadOptimizer: true, offloadParams: false)
        #expect(plan.states.gpuBytes == ds.gpuBytes)
        #expect(plan.states.cpuBytesPerNode == ds.cpuBytes)
        #expect(plan.notes.contains { $0.contains("host memory per node") })
        // Given too little host memory, the same request is refused.
        r.nodeMemoryBytes = 512 << 30
        #expect(throws: PlanRefusal.self) { try Planner.plan(r) }
    }

    @Test func preferenceStagesCarryAReferenceModelAndKTOAPairedBatch() throws {
        let sft = try Planner.plan(request("8b"))
        let dpo = try Planner.plan(request("8b", stage: .dpo))
        #expect(!dpo.states.exactDeepSpeed)
        #expect(dpo.states.source.contains("reference model"))
        let kto = try Planner.plan(request("8b", stage: .kto))
        #expect(kto.microBatch >= 2)
        #expect(dpo.activations.totalBytes > 0 && sft.activations.totalBytes > 0)
        var fixed = request("8b", stage: .kto)
        fixed.microBatch = Sourced(1, .user("--micro-batch"))
        #expect(throws: PlanRefusal.self) { try Planner.plan(fixed) }
    }

    @Test func globalBatchThatTheGPUsDoNotDivideIsReportedNotHidden() throws {
        var r = request("8b")
        r.globalBatch = Sourced(50, .user("--global-batch"))
        let plan = try Planner.plan(r)
        #expect(plan.globalBatch >= 50)
        #expect(plan.globalBatch % 8 == 0)
        #expect(plan.notes.contains { $0.hasPrefix("global batch \(plan.globalBatch), not 50") })
    }

    @Test func stepsAndTimeFromTokenizedSamples() throws {
        let census = try TokenCensus.read([Paths.fixture("train/samples.tok.jsonl")], threads: 2)
        #expect(census.samples == 5)
        #expect(census.tokens == 1200 + 3000 + 700 + 5000 + 2048)
        #expect(census.supervisedTokens == 40 + 120 + 15 + 300 + 64)
        #expect(census.lengths.max == 5000)
        var r = request("8b")
        r.census = census
        r.globalBatch = Sourced(16, .user("--global-batch"))
        r.microBatch = Sourced(1, .user("--micro-batch"))
        let plan = try Planner.plan(r)
        #expect(plan.memorySequenceLength == 5000)
        // 5 samples, 8 GPUs, micro 1, accumulation 2: ceil(ceil(5 / 8) / 2) = 1 step per epoch.
        #expect(plan.gradientAccumulation == 2)
        #expect(plan.stepsPerEpoch == 1)
        #expect(plan.totalSteps == 3)
        let a = catalog.model(size: "8b")!.architecture
        let squares = [1200.0, 3000, 700, 5000, 2048].reduce(0) { $0 + $1 * $1 }
        let flops = 6 * Double(a.matmulParameters) * Double(census.tokens) + 12 * Double(32 * 32 * 128) * squares
        #expect(plan.flopsPerEpoch == flops)
        #expect(plan.secondsPerEpoch == flops / (8 * 989.5e12 * 0.35))
        #expect(plan.notes.contains { $0.contains("warmup steps") })

        let pairs = try TokenCensus.read([Paths.fixture("train/pairs.tok.jsonl")], threads: 1)
        #expect(pairs.samples == 2)
        #expect(pairs.lengths.total == 4)
        #expect(pairs.tokens == (900 + 30) + (900 + 40) + (1500 + 20) + (1500 + 25))
    }

    @Test func everyFigureInThePlanJSONNamesItsSource() throws {
        var r = request("32b")
        r.census = try TokenCensus.read([Paths.fixture("train/samples.tok.jsonl")], threads: 1)
        let json = try Planner.plan(r).json
        var figures = 0
        func walk(_ j: JSON, _ path: String) {
            switch j {
            case .object(let o):
                if o["value"] != nil {
                    figures += 1
                    #expect((o["source"]?.string ?? "").count > 3, "\(path) has no source")
                }
                for m in o.members { walk(m.value, path + "." + m.key) }
            case .array(let a):
                for (k, v) in a.enumerated() { walk(v, path + "[\(k)]") }
            case .number:
                let allowed = ["value", "plan_version", "samples", "sequences", "tokens", "supervised_tokens", "max_length", "p50_length", "unmeasured",
                               "zero_stage", "nodes", "host_bytes_per_node", "stage"]
                let key = String(path.split(separator: ".").last ?? "")
                let inArchitecture = path.contains(".architecture.")
                #expect(allowed.contains(key) || inArchitecture, "bare number at \(path)")
            default: break
            }
        }
        walk(json, "plan")
        #expect(figures > 30)
        // Deterministic: the same request gives the same bytes.
        #expect(json.serialized(.pretty) == (try Planner.plan(r)).json.serialized(.pretty))
    }
}
