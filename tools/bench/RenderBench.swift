// Chat-template rendering throughput on canonical trajectories, in memory, two ways:
//   template renders only: per assistant reply, the conversation through the reply and the prompt
//     before it (what tools/bench/render_bench_py.py times with transformers' jinja2 renderer);
//   samples: the render stage's per-turn work (those renders, the supervised span, the sample line).

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
    /// Seconds for all trajectories on `threads` threads, and the bytes (sample JSON or rendered text) made.
    func pass(_ threads: Int, _ work: (Trajectory) -> Int) -> (seconds: Double, bytes: Int) {
        var bytes = 0
        let seconds = best(of: 3) {
            bytes = parallelMap(count: trajectories.count, threads: threads) { k in work(trajectories[k]) }.reduce(0, +)
        }
        return (seconds, bytes)
    }
    // The same work as render_bench_py.py: the two template renders per reply, nothing else.
    let renders: (Trajectory) -> Int = { renderer.renderTurnsOnly($0) }
    // The render stage's work: the renders, finding the supervised span, and the sample JSON line.
    let samples: (Trajectory) -> Int = { renderer.renderSamples($0).lines.count }
    var lines: [String] = []
    lines.append(String(format: "render %@: %d trajectories, %d replies (samples)", template.name, trajectories.count, replies))
    let kinds: [(String, (Trajectory) -> Int)] = [("template renders only (as render_bench_py.py)", renders),
                                                ("samples (renders + span + sample JSON)", samples)]
    for (label, work) in kinds {
        let one = pass(1, work)
        let many = pass(threads, work)
        lines.append(String(format: "  %@: %.1f MB | 1 thread %.0f samples/s (%.2f ms/trajectory) | %d threads %.0f samples/s",
                            label, Double(one.bytes) / 1e6, Double(replies) / one.seconds, one.seconds * 1000 / Double(trajectories.count),
                            threads, Double(replies) / many.seconds))
    }
    return lines.joined(separator: "\n")
}
