// trajforge-bench: throughput benchmarks (speed targets live here, never in unit tests).
// Build and run in release mode:
//   swift run -c release trajforge-bench json corpus.jsonl [--threads N]
//   swift run -c release trajforge-bench ingest rollouts.jsonl [--format openai] [--threads N] [--output /dev/null]
//   swift run -c release trajforge-bench bpe tokenizer.json text.txt [--threads N]
//   swift run -c release trajforge-bench render trajectories.jsonl xlam2-llama [--threads N]
//   swift run -c release trajforge-bench dedup corpus.jsonl [--threads N] [--output PATH]
//   swift run -c release trajforge-bench dedup-shingles corpus.jsonl [--limit N]
//   swift run -c release trajforge-bench shard corpus.jsonl [--threads N]
// tools/bench/gen_chat_jsonl.py writes a chat-like JSONL corpus for the json and ingest benchmarks.

import Foundation
import TrajForge

let usage = """
    usage: trajforge-bench json FILE.jsonl [--threads N]
           trajforge-bench ingest FILE [--format F] [--threads N] [--output PATH]
           trajforge-bench bpe TOKENIZER.json TEXT.txt [--threads N]
           trajforge-bench render TRAJECTORIES.jsonl TEMPLATE [--threads N]
           trajforge-bench dedup FILE.jsonl [--threads N] [--output PATH]
           trajforge-bench dedup-shingles FILE.jsonl [--limit N]
           trajforge-bench shard FILE.jsonl [--threads N]
    """

/// Removes `name VALUE` from `args` and returns VALUE.
func option(_ name: String, from args: inout [String]) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    let value = args[i + 1]
    args.removeSubrange(i...(i + 1))
    return value
}

var args = Array(CommandLine.arguments.dropFirst())
let threads = option("--threads", from: &args).flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
let format = option("--format", from: &args).flatMap(SourceFormat.init(rawValue:)) ?? .auto
let output = option("--output", from: &args) ?? "/dev/null"
let shingleLimit = option("--limit", from: &args).flatMap(Int.init)

do {
    switch (args.first, args.count) {
    case ("json", 2): print(try runJSONBenchmark(file: args[1], threads: threads))
    case ("ingest", 2): print(try runIngestBenchmark(file: args[1], format: format, threads: threads, output: output))
    case ("bpe", 3): print(try runBPEBenchmark(tokenizerPath: args[1], textFile: args[2], threads: threads))
    case ("render", 3): print(try runRenderBenchmark(trajectories: args[1], template: args[2], threads: threads))
    case ("dedup", 2): print(try runDedupBenchmark(file: args[1], threads: threads, output: output))
    case ("dedup-shingles", 2): print(try runShingleDump(file: args[1], limit: shingleLimit))
    case ("shard", 2): print(try runShardBenchmark(file: args[1], threads: threads))
    default:
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(64)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
