import Foundation

// DeepSpeed's own model-state memory estimators, transcribed operation for operation so that the
// results are the same integers (Python int and float arithmetic, truncation by int()):
//   deepspeed/runtime/zero/stage_1_and_2.py  estimate_zero2_model_states_mem_needs(_all_cold)
//   deepspeed/runtime/zero/stage3.py         estimate_zero3_model_states_mem_needs(_all_cold)
// (deepspeed 0.19.8; ../shared/golden holds their outputs for the five xLAM-2 bases.)
// "Model states" are parameters, gradients and optimizer states; activations are not included.

public enum DeepSpeedEstimator {
    public static let version = "deepspeed 0.19.8"

    public struct Zero2: Sendable, Equatable {
        public var cpuBytes: Int
        public var gpuBytes: Int
    }

    public struct Zero3: Sendable, Equatable {
        public var cpuBytes: Int
        public var gpuBytes: Int
        public var largestLayerMemory: Int
    }

    /// `estimate_zero2_model_states_mem_needs(total_params, num_gpus_per_node, num_nodes, cpu_offload,
    /// additional_buffer_factor)`: per-GPU bytes 2 (bf16 params) + 18/N (16-bit grads 2, fp32 grads 4,
    /// fp32 params 4, Adam states 8) per parameter, or 2 with the optimizer offloaded.
    public static func zero2(totalParams: Int, gpusPerNode: Int, nodes: Int = 1, cpuOffload: Bool,
                             additionalBufferFactor: Double = 1.5) -> Zero2
    {
        let totalGPUs = nodes * gpusPerNode
        let gpuMem: Int
        let cpuMem: Double
        if cpuOffload {
            gpuMem = 2 * totalParams
            cpuMem = Double(totalParams * max(4 * totalGPUs, 16)) * additionalBufferFactor
        } else {
            gpuMem = 2 * totalParams + pyInt(trueDivide(18 * totalParams, totalGPUs))
            cpuMem = Double(totalParams * 4 * gpusPerNode) * additionalBufferFactor
        }
        return Zero2(cpuBytes: pyInt(cpuMem), gpuBytes: gpuMem)
    }

    /// `estimate_zero3_model_states_mem_needs(total_params, largest_layer_params, num_gpus_per_node,
    /// num_nodes, cpu_offload, cpu_offload_params, zero_init, additional_buffer_factor)`.
    public static func zero3(totalParams: Int, largestLayerParams: Int, gpusPerNode: Int, nodes: Int = 1,
                             offloadOptimizer: Bool, offloadParams: Bool, zeroInit: Bool = true,
                             additionalBufferFactor: Double = 1.5) -> Zero3
    {
        let totalGPUs = nodes * gpusPerNode
        let gpusFactor = 1.0 / Double(nodes)
        let largestLayerMemory = 4 * largestLayerParams
        let gpuMem: Int
        let cpuMem: Double
        if offloadOptimizer {
            if offloadParams {
                gpuMem = largestLayerMemory
                cpuMem = zeroInit
                    ? Double(totalParams * 18) * gpusFactor * additionalBufferFactor
                    : pyMaxTimes(totalParams, 4 * gpusPerNode, 18 * gpusFactor) * additionalBufferFactor
            } else {
                gpuMem = largestLayerMemory + pyInt(trueDivide(2 * totalParams, totalGPUs))
                cpuMem = zeroInit
                    ? Double(totalParams * 16) * gpusFactor * additionalBufferFactor
                    : pyMaxTimes(totalParams, 4 * gpusPerNode, 16 * gpusFactor) * additionalBufferFactor
            }
        } else {
            gpuMem = largestLayerMemory + pyInt(trueDivide(18 * totalParams, totalGPUs))
            cpuMem = zeroInit
                ? Double(largestLayerParams * 4 * gpusPerNode) * additionalBufferFactor
                : Double(totalParams * 4 * gpusPerNode) * additionalBufferFactor
        }
        return Zero3(cpuBytes: pyInt(cpuMem), gpuBytes: gpuMem, largestLayerMemory: largestLayerMemory)
    }

    // MARK: the tables `*_all_cold` print

    /// What `estimate_zero2_model_states_mem_needs_all_cold` prints.
    public static func zero2Table(totalParams: Int, gpusPerNode: Int, nodes: Int = 1, additionalBufferFactor: Double = 1.5) -> String {
        var lines = header(nodes: nodes, gpusPerNode: gpusPerNode, model: "SW: Model with \(pyIntMillions(totalParams))M total params.")
        for offload in [true, false] {
            let e = zero2(totalParams: totalParams, gpusPerNode: gpusPerNode, nodes: nodes, cpuOffload: offload,
                          additionalBufferFactor: additionalBufferFactor)
            lines.append(row(e.cpuBytes, e.gpuBytes, "offload_optimizer=\(offload ? cpuDevice : "none")"))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What `estimate_zero3_model_states_mem_needs_all_cold` prints.
    public static func zero3Table(totalParams: Int, largestLayerParams: Int, gpusPerNode: Int, nodes: Int = 1,
                                  additionalBufferFactor: Double = 1.5) -> String
    {
        var lines = header(nodes: nodes, gpusPerNode: gpusPerNode,
                           model: "SW: Model with \(pyIntMillions(totalParams))M total params, \(pyIntMillions(largestLayerParams))M largest layer params.")
        for offloadOptimizer in [true, false] {
            for offloadParams in [true, false] where offloadOptimizer || !offloadParams {
                for zeroInit in [true, false] {
                    let e = zero3(totalParams: totalParams, largestLayerParams: largestLayerParams, gpusPerNode: gpusPerNode, nodes: nodes,
                                  offloadOptimizer: offloadOptimizer, offloadParams: offloadParams, zeroInit: zeroInit,
                                  additionalBufferFactor: additionalBufferFactor)
                    let options = "offload_param=\(offloadParams ? cpuDevice : "none"), offload_optimizer=\(offloadOptimizer ? cpuDevice : "none"), zero_init=\(zeroInit ? 1 : 0)"
                    lines.append(row(e.cpuBytes, e.gpuBytes, options))
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `f'{OffloadDeviceEnum.cpu:4}'` on Python 3.12+ (an Enum's format is its str()).
    static let cpuDevice = "OffloadDeviceEnum.cpu"

    static func header(nodes: Int, gpusPerNode: Int, model: String) -> [String] {
        ["Estimated memory needed for params, optim states and gradients for a:",
         "HW: Setup with \(nodes) \(nodes > 1 ? "nodes" : "node"), \(gpusPerNode) \(gpusPerNode > 1 ? "GPUs" : "GPU") per node.",
         model,
         "  per CPU  |  per GPU |   Options"]
    }

    /// `f" {cpu_mem/2**30:7.2f}GB | {gpu_mem/2**30:6.2f}GB | {options_str}"`
    static func row(_ cpu: Int, _ gpu: Int, _ options: String) -> String {
        " " + String(format: "%7.2f", Double(cpu) / 1073741824.0) + "GB | " + String(format: "%6.2f", Double(gpu) / 1073741824.0) + "GB | " + options
    }

    // MARK: Python arithmetic

    /// Python's `a / b` on ints: the correctly rounded quotient (exact operands below 2^53 make
    /// Double division correctly rounded too).
    static func trueDivide(_ a: Int, _ b: Int) -> Double {
        precondition(abs(a) < 1 << 53 && abs(b) < 1 << 53, "operands beyond 2^53 are not exact in Double")
        return Double(a) / Double(b)
    }

    /// Python's `int(x)` on a float: truncation toward zero.
    static func pyInt(_ x: Double) -> Int { Int(x.rounded(.towardZero)) }

    /// `int(total_params / 1e6)`
    static func pyIntMillions(_ n: Int) -> Int { pyInt(Double(n) / 1e6) }

    /// `total_params * max(int_a, float_b)`: Python's max keeps the first of equal values, and the
    /// product stays an exact int when the int wins.
    static func pyMaxTimes(_ total: Int, _ a: Int, _ b: Double) -> Double {
        Double(a) >= b ? Double(total * a) : Double(total) * b
    }
}
