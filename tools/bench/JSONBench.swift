// JSON parse throughput: ByteJSON vs Foundation on the lines of a JSONL file held in memory.

import ByteJSON
import Dispatch
import Foundation
import TrajForge

func runJSONBenchmark(file: String, threads: Int) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: file))
    let bytes = [UInt8](data)
    var lines: [Range<Int>] = []
    var start = 0
    for (i, b) in bytes.enumerated() where b == 0x0A {
        if i > start { lines.append(start..<i) }
        start = i + 1
    }
    let mb = Double(bytes.count) / 1e6

    func byteJSON(threads: Int) -> Double {
        best(of: 5) {
            bytes.withUnsafeBytes { raw in
                let results = parallelMap(count: threads, threads: threads) { t -> Int in
                    var members = 0
                    for k in stride(from: t, to: lines.count, by: threads) {
                        if case .object(let o) = try! JSON.parse(UnsafeRawBufferPointer(rebasing: raw[lines[k]])) { members += o.count }
                    }
                    return members
                }
                precondition(results.reduce(0, +) > 0)
            }
        }
    }
    let one = mb / byteJSON(threads: 1)
    let many = mb / byteJSON(threads: threads)
    let foundation = mb / best(of: 2) {
        for r in lines { _ = try! JSONSerialization.jsonObject(with: data[r]) }
    }
    return String(format: "json: %.1f MB, %d lines | ByteJSON %.0f MB/s (1 thread), %.0f MB/s (%d threads) | Foundation JSONSerialization %.0f MB/s (1 thread)",
                  mb, lines.count, one, many, threads, foundation)
}

/// The fastest of `n` runs, in seconds.
func best(of n: Int, _ body: () -> Void) -> Double {
    var fastest = Double.infinity
    for _ in 0..<n {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return fastest
}
