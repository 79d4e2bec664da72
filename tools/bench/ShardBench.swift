// Shard throughput: `ShardWriter` end to end (read, hash and validate the input, assemble,
// compress, hash, write, fsync, rename, manifest) per format, codec and level, beside the bare
// compressor on the same bytes, on 1 thread and on `threads` threads. Run in release mode:
//   swift run -c release trajforge-bench shard corpus.jsonl [--threads 2]
// The bare compressor compresses the same shard-sized pieces of the input, each as its own gzip
// member / zstd frame, into memory; with N threads it compresses N pieces at once.
//
// What "thr N" means: the bare compressor runs N compressions at once. The shard run has N
// compression workers, plus the reading thread, which reads and hashes (SHA-256) the input,
// checks and encodes the records (on N threads when N > 1) and assembles the shards; so at thr 1
// two threads share the work, reading beside compressing (plus each worker's file thread, which
// writes, hashes and fsyncs what it compressed). JSONL and WebDataset shards are compressed while
// they are still being read (zstd ones from 4 MiB on); MDS shards once complete.
//
// Use a corpus of many shards (the first one cannot overlap with reading; with 2 shards the run
// is mostly serial), e.g. ten copies of a 70 MB corpus with distinct ids (about 700 MB, 11 shards
// of 64 MiB). Best of TRAJFORGE_BENCH_REPEATS runs (default 3). On a shared machine, trust the
// CPU columns: the wall ones move with whatever else runs.

import Foundation
import TrajForge

/// One line per (format, codec, level): the bare compressor and the whole shard run on 1 and
/// `threads` threads, as wall-clock MB/s and as MB per CPU-second (user + system, all threads; this
/// one does not move when other processes share the cores), and the shard run's share of the bare
/// compressor's speed. MB = 10^6 bytes of input.
func runShardBenchmark(file: String, threads: Int, shardBytes: Int = 64 << 20,
                       repeats: Int = Int(ProcessInfo.processInfo.environment["TRAJFORGE_BENCH_REPEATS"] ?? "") ?? 3) throws -> String {
    let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    let mb = Double(input.count) / 1e6
    let pieces = shardPieces(input, limit: shardBytes)
    let counts = threads > 1 ? [1, threads] : [1]
    let configs: [(ShardFormat, ShardCodec, Int?)] = [
        (.jsonl, .none, nil), (.jsonl, .gzip, 1), (.jsonl, .gzip, 6), (.jsonl, .zstd, 1), (.jsonl, .zstd, 3), (.jsonl, .zstd, 9),
        (.webdataset, .zstd, 3), (.mds, .zstd, 3),
    ]
    let folder = NSTemporaryDirectory() + "trajforge-shard-bench-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var lines = ["shard: \(file), " + String(format: "%.1f MB in %d shards of <= %d MiB; best of %d; MB/s wall | MB per CPU-second",
                                             mb, pieces.count, shardBytes >> 20, repeats)]
    lines.append("format      codec   level  thr |  bare wall  shard wall  share |  bare cpu  shard cpu  share | shards | size")
    for (format, codec, level) in configs {
        for t in counts {
            let bare = try shardBestOf(repeats) {
                _ = try shardParallel(pieces.count, threads: t) { k in
                    try compressShardBytes(input[pieces[k]], codec: codec, level: level)
                }
            }
            var options = ShardOptions()
            options.format = format
            options.codec = codec
            options.level = level
            options.threads = t
            options.maxShardBytes = shardBytes
            options.overwrite = true
            var manifest: ShardManifest?
            let shard = try shardBestOf(repeats) {
                manifest = try ShardWriter(options: options, folder: folder).run(inputs: [file], rejects: nil)
            }
            let size = manifest?.totalCompressedBytes ?? 0
            // The bare compressor is the same work only for JSONL (tar and MDS add their framing).
            let same = format == .jsonl && codec != .none
            func share(_ a: Double, _ b: Double) -> String { same ? String(format: "%4.0f%%", 100 * a / b) : "    -" }
            var row = shardPad(format.rawValue, 11) + " " + shardPad(codec.rawValue, 7) + " " + shardPad(level.map(String.init) ?? "-", 5, left: true)
            row += " " + shardPad(String(t), 4, left: true) + " |"
            row += String(format: " %9.0f  %10.0f  ", same ? mb / bare.wall : .nan, mb / shard.wall) + share(bare.wall, shard.wall) + " |"
            row += String(format: " %8.0f  %9.0f  ", same ? mb / bare.cpu : .nan, mb / shard.cpu) + share(bare.cpu, shard.cpu) + " |"
            row += String(format: " %6d | %.1f MB (%.3f)", manifest?.shards.count ?? 0, Double(size) / 1e6, Double(size) / Double(input.count))
            lines.append(row)
        }
    }
    lines.append("thr N: N compressions at once (bare); N compression workers plus the reading thread (shard). Shard runs include")
    lines.append("reading, hashing and checking the input, writing, fsync and the manifest (to \(NSTemporaryDirectory())).")
    return lines.joined(separator: "\n")
}

/// The JSONL shards' contents: whole lines, a piece closing before a line that would take it over `limit`.
private func shardPieces(_ bytes: [UInt8], limit: Int) -> [Range<Int>] {
    var pieces: [Range<Int>] = []
    var start = 0
    var lineStart = 0
    for i in bytes.indices where bytes[i] == 0x0A {
        if lineStart > start && i + 1 - start > limit {
            pieces.append(start..<lineStart)
            start = lineStart
        }
        lineStart = i + 1
    }
    if start < bytes.count { pieces.append(start..<bytes.count) }
    return pieces
}

private func shardPad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? fill + s : s + fill
}

/// The fastest of `n` runs: wall seconds, and the process's CPU seconds (user + system) in that run.
private func shardBestOf(_ n: Int, _ body: () throws -> Void) throws -> (wall: Double, cpu: Double) {
    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }
    var best = (wall: Double.infinity, cpu: Double.infinity)
    for _ in 0..<n {
        let c0 = cpuSeconds()
        let t0 = Date()
        try body()
        best.wall = min(best.wall, Date().timeIntervalSince(t0))
        best.cpu = min(best.cpu, cpuSeconds() - c0)
    }
    return best
}

/// `transform` over 0..<count on `threads` threads, results in order.
private func shardParallel(_ count: Int, threads: Int, _ transform: @escaping @Sendable (Int) throws -> Int) throws -> [Int] {
    final class Box: @unchecked Sendable {
        var results: [Int]
        var error: Error?
        let lock = NSLock()
        var next = 0
        init(_ n: Int) { results = Array(repeating: 0, count: n) }
    }
    let box = Box(count)
    DispatchQueue.concurrentPerform(iterations: max(1, min(threads, count))) { _ in
        while true {
            box.lock.lock()
            let k = box.next
            box.next += 1
            box.lock.unlock()
            if k >= count { return }
            do {
                let r = try transform(k)
                box.lock.lock()
                box.results[k] = r
                box.lock.unlock()
            } catch {
                box.lock.lock()
                box.error = error
                box.lock.unlock()
            }
        }
    }
    if let error = box.error { throw error }
    return box.results
}
