// Chat-template rendering throughput: per-turn SFT samples (two renders per assistant reply: the
// conversation through the reply, and the prompt before it) of canonical trajectories, in memory.
// tools/bench/render_bench_py.py does the same work with transformers' jinja2 renderer.

import ByteJSON
import Dispatch
import Foundation
import TrajForge

func runRenderBenchmark(trajectories file: String, template name: String, threads: Int) throws -> String {
    let template = try ChatTemplate.load(name)
    let data = try Data(contentsOf: URL(fileURLWithPath: file))
    let trajectories = try data.split(separator: 0x0A).map { try Trajectory(json: JSON.parse([UInt8]($0))) }
    let replies = trajectories.reduce(0) { $0 + $1.messages.filter { $0.role == .assistant }.count }

    let renderer = SFTRenderer(template: template, options: SFTRenderOptions())
    func pass(_ threads: Int) -> (seconds: Double, bytes: Int) {
        var bytes = 0
        let seconds = best(of: 3) {
            let sizes = parallelMap(count: trajectories.count, threads: threads) { k -> Int in
                renderer.renderSamples(trajectories[k]).lines.count
            }
            bytes = sizes.reduce(0, +)
        }
        return (seconds, bytes)
    }
    let one = pass(1)
    let many = pass(threads)
    return String(format: "render %@: %d trajectories, %d samples (%.1f MB of sample JSON) | 1 thread %.0f samples/s (%.1f ms/trajectory) | %d threads %.0f samples/s",
                  template.name, trajectories.count, replies, Double(one.bytes) / 1e6, Double(replies) / one.seconds,
                  one.seconds * 1000 / Double(trajectories.count), threads, Double(replies) / many.seconds)
}
