// BPE encode throughput benchmark (wired into `trajforge-bench` by the lead).
// Uses only BPE and Foundation: loads a tokenizer.json, encodes every line of a text file (as HF's
// bench_hf.py does with encode_batch), on `threads` threads, and reports MB/s.

import BPE
import Foundation

/// Encodes the lines of `textFile` with the tokenizer at `tokenizerPath` on `threads` threads (lines
/// dealt round-robin, so each thread gets the same mix of text; each line keeps its "\n", as
/// tools/bpe/bench_hf.py does) and returns one report line with load time, tokens and MB/s (best of
/// three passes).
func runBPEBenchmark(tokenizerPath: String, textFile: String, threads: Int) throws -> String {
    let loadStart = Date()
    let tokenizer = try Tokenizer(tokenizerJSONPath: tokenizerPath)
    let loadSeconds = Date().timeIntervalSince(loadStart)
    guard let data = FileManager.default.contents(atPath: textFile) else {
        throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: textFile])
    }
    let lines: [String] = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) + "\n" }   // the last line also gets one, as in Python
    let bytes = lines.reduce(0) { $0 + $1.utf8.count }
    let threadCount = max(1, threads)

    // Warm-up pass on one thread (fills page cache and the per-thread word cache of this thread only).
    _ = lines.prefix(200).reduce(0) { $0 + tokenizer.encode($1, parseSpecial: true).count }

    let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: threadCount)
    counts.initialize(repeating: 0)
    defer { counts.deallocate() }
    nonisolated(unsafe) let shared = counts
    var seconds = Double.infinity
    for _ in 0..<3 {
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: threadCount) { t in
            var tokens = 0
            var i = t
            while i < lines.count {
                tokens += tokenizer.encode(lines[i], parseSpecial: true).count
                i += threadCount
            }
            shared[t] = tokens
        }
        seconds = min(seconds, Date().timeIntervalSince(start))
    }
    let tokens = counts.reduce(0, +)
    let mbps = Double(bytes) / 1e6 / seconds
    return String(format: "bpe %@ threads=%d load=%.3fs bytes=%d tokens=%d time=%.3fs %.2f MB/s (%.2f MB/s per thread)",
                  (tokenizerPath as NSString).lastPathComponent == "tokenizer.json"
                    ? ((tokenizerPath as NSString).deletingLastPathComponent as NSString).lastPathComponent : tokenizerPath,
                  threadCount, loadSeconds, bytes, tokens, seconds, mbps, mbps / Double(threadCount))
}
