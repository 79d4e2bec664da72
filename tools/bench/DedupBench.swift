// Dedup throughput: a canonical trajectory file through `Deduplicator` (both passes, exact +
// near-duplicate with the default parameters) into an uncompressed JSONL (or any output).
// tools/dedup/gen_dedup_corpus.py writes a corpus with known exact and near duplicates.

import Foundation
import TrajForge

func runDedupBenchmark(file: String, threads: Int, output: String, runs: Int = 3) throws -> String {
    let size = Double((try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0) / 1e6
    var options = DedupOptions()
    options.threads = threads
    var ledger = Ledger(stage: "dedup")
    var bytesPerRecord = 0
    let seconds = try bestThrowing(of: runs) {
        let out = try OutputFile(path: output, compression: OutputCompression(Compression.forOutputPath(output)))
        let dedup = Deduplicator(options: options)
        try dedup.run(inputs: [file], output: out, rejects: nil, drops: nil)
        try out.commit()
        ledger = dedup.ledger
        bytesPerRecord = dedup.indexBytesPerRecord
    }
    let dropped = ledger.dropped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    let rate = String(format: "%.1f MB, %.2f s | %.0f MB/s, %.0f records/s", size, seconds, size / seconds, Double(ledger.input) / seconds)
    return "dedup: \(ledger.input) records -> kept \(ledger.kept) (\(dropped)) | \(rate), index \(bytesPerRecord) B/record "
        + "(\(threads) threads, best of \(runs))"
}

/// For each record of a canonical JSONL file (at most `limit`): "id<TAB>distinct shingles<TAB>sum of
/// their hashes mod 2^64", the format of `tools/dedup/datasketch_bench.py --shingles`, so a diff
/// shows both build the same shingle sets.
func runShingleDump(file: String, limit: Int?) throws -> String {
    let input = try openRecords(file)
    guard let reader = input.reader else { return "" }
    var lines: [String] = []
    let shingler = Shingler()
    while let batch = try reader.nextBatch() {
        for item in batch.items {
            guard case .record(let raw) = item, limit.map({ lines.count < $0 }) ?? true else { continue }
            guard case .success(let t) = readTrajectory(batch, raw) else { continue }
            let set = shingler.hashSet(t)
            lines.append("\(t.id)\t\(set.count)\t\(set.reduce(0, &+))")
        }
    }
    return lines.joined(separator: "\n")
}
