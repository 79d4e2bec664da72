// End-to-end ingest throughput: a file through `Ingester` into an uncompressed JSONL (or any output).

import Foundation
import TrajForge

func runIngestBenchmark(file: String, format: SourceFormat, threads: Int, output: String) throws -> String {
    let size = Double((try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0) / 1e6
    var options = IngestOptions()
    options.format = format
    options.threads = threads
    var ledger = Ledger(stage: "ingest")
    let seconds = try bestThrowing(of: 3) {
        let out = try OutputFile(path: output, compression: OutputCompression(Compression.forOutputPath(output)))
        let ingester = Ingester(options: options)
        try ingester.run(inputs: [file], output: out, rejects: nil)
        try out.commit()
        ledger = ingester.ledger
    }
    return String(format: "ingest: %.1f MB, %d records -> %@ | %.0f MB/s, %.0f records/s (%d threads)",
                  size, ledger.input, output, size / seconds, Double(ledger.input) / seconds, threads)
}

func bestThrowing(of n: Int, _ body: () throws -> Void) throws -> Double {
    var fastest = Double.infinity
    for _ in 0..<n {
        let t0 = Date()
        try body()
        fastest = min(fastest, Date().timeIntervalSince(t0))
    }
    return fastest
}
