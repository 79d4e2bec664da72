import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite struct TrainDeepSpeedTests {
    /// Every golden output of estimate_zero2/zero3_model_states_mem_needs, to the byte.
    @Test func estimatesEqualDeepSpeedsGoldens() throws {
        let golden = try DeepSpeedGolden.load()
        guard case .object(let estimates)? = golden["estimates"], case .object(let inputs)? = golden["inputs"] else {
            Issue.record("golden file has no estimates")
            return
        }
        #expect(estimates.count == 50)
        var checked = 0
        for member in estimates {
            // "<model>/gpus<g>/z2_offload" | "z2_nooffload" | "z3_off<A><B>_zi1"
            let parts = member.key.split(separator: "/").map(String.init)
            let total = try #require(inputs[parts[0]]?.array?[0].int)
            let largest = try #require(inputs[parts[0]]?.array?[1].int)
            let gpus = try #require(Int(String(parts[1].dropFirst(4))))
            let want = (member.value.array ?? []).compactMap { $0.int }
            #expect(want.count >= 2, "\(member.key)")
            switch parts[2] {
            case "z2_offload", "z2_nooffload":
                let e = DeepSpeedEstimator.zero2(totalParams: total, gpusPerNode: gpus, nodes: 1, cpuOffload: parts[2] == "z2_offload")
                #expect([e.cpuBytes, e.gpuBytes] == want, "\(member.key)")
            default:
                let flags = Array(parts[2].dropFirst("z3_off".count).prefix(2))
                #expect(parts[2].hasSuffix("_zi1"))
                let e = DeepSpeedEstimator.zero3(totalParams: total, largestLayerParams: largest, gpusPerNode: gpus, nodes: 1,
                                                 offloadOptimizer: flags[0] == "1", offloadParams: flags[1] == "1", zeroInit: true)
                #expect([e.cpuBytes, e.gpuBytes, e.largestLayerMemory] == want, "\(member.key)")
            }
            checked += 1
        }
        #expect(checked == 50)
    }

    /// The `_all_cold` printouts, byte for byte (Llama-3.1-8B on one node of 8 GPUs).
    @Test func allColdTablesEqualDeepSpeedsPrintout() throws {
        let golden = String(decoding: try readBytes(DeepSpeedGolden.tablesPath), as: UTF8.self)
        let a = ModelCatalog.builtin.model(size: "8b")!.architecture
        let ours = DeepSpeedEstimator.zero2Table(totalParams: a.parameters, gpusPerNode: 8)
            + DeepSpeedEstimator.zero3Table(totalParams: a.parameters, largestLayerParams: a.largestLayerParameters, gpusPerNode: 8)
        #expect(ours == golden)
    }

    /// Multi-node cases outside the goldens, checked against outputs of deepspeed 0.19.8's
    /// estimate_zero{2,3}_model_states_mem_needs run on CPU (Python's float 1/num_nodes,
    /// max(int, float) and int() truncation all show up here).
    @Test func multiNodeCasesEqualDeepSpeed() {
        let p = 70_553_706_496
        let largest = 1_050_673_152
        let cases: [(Bool, Bool, Bool, [Int])] = [
            (true, true, true, [634_983_358_464, 4_202_692_608, 4_202_692_608]),
            (true, true, false, [3_386_577_911_808, 4_202_692_608, 4_202_692_608]),
            (true, false, true, [564_429_651_968, 10_082_168_149, 4_202_692_608]),
            (true, false, false, [3_386_577_911_808, 10_082_168_149, 4_202_692_608]),
            (false, false, true, [50_432_311_296, 57_117_972_480, 4_202_692_608]),
            (false, false, false, [3_386_577_911_808, 57_117_972_480, 4_202_692_608]),
        ]
        for (optimizer, params, zeroInit, want) in cases {
            let e = DeepSpeedEstimator.zero3(totalParams: p, largestLayerParams: largest, gpusPerNode: 8, nodes: 3,
                                             offloadOptimizer: optimizer, offloadParams: params, zeroInit: zeroInit)
            #expect([e.cpuBytes, e.gpuBytes, e.largestLayerMemory] == want, "offload \(optimizer)/\(params), zero_init \(zeroInit)")
        }
        let z2off = DeepSpeedEstimator.zero2(totalParams: p, gpusPerNode: 8, nodes: 3, cpuOffload: true)
        let z2offWant: [Int] = [10_159_733_735_424, 141_107_412_992]
        #expect([z2off.cpuBytes, z2off.gpuBytes] == z2offWant)
        let z2 = DeepSpeedEstimator.zero2(totalParams: p, gpusPerNode: 8, nodes: 3, cpuOffload: false)
        let z2Want: [Int] = [3_386_577_911_808, 194_022_692_864]
        #expect([z2.cpuBytes, z2.gpuBytes] == z2Want)
        // A product that is not an integer: 32.76B x 16 x (1/7) x 1.5, truncated.
        let q = DeepSpeedEstimator.zero3(totalParams: 32_763_876_352, largestLayerParams: 778_567_680, gpusPerNode: 4, nodes: 7,
                                         offloadOptimizer: true, offloadParams: false, zeroInit: true)
        let qWant: [Int] = [112_333_290_349, 5_454_547_602, 3_114_270_720]
        #expect([q.cpuBytes, q.gpuBytes, q.largestLayerMemory] == qWant)
    }
}
