import ByteJSON
import Foundation
@testable import TrajForge

/// Seeded synthetic records for shard tests: nested objects, unicode and escapes, floats in
/// Python's repr, big integers, token-id lists, sizes from a few bytes to ~40 KB.
func shardTestRecords(_ count: Int, seed: UInt64 = 42) -> [String] {
    var state = seed
    func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        return mix64(state)
    }
    let words = ["order", "refund", "Zürich", "東京", "🧪👩‍🔬", "tab\there", "line\nbreak", "quote \" and \\", "café", "ok"]
    var lines: [String] = []
    for i in 0..<count {
        let n = Int(next() % 30) + (i % 37 == 3 ? 4000 : 1)
        var text = ""
        for _ in 0..<n { text += words[Int(next() % UInt64(words.count))] + " " }
        let tokens = (0..<(Int(next() % 50) + 1)).map { _ in JSON.number(JSONNumber(Int(next() % 151_000))) }
        let floats: [JSON] = [.number(JSONNumber(unchecked: "0.1")), .number(JSONNumber(unchecked: "1e-05")),
                              .number(JSONNumber(unchecked: "0.9299999999999999")), .number(JSONNumber(unchecked: "12345678901234567890"))]
        let record: JSON = .object([
            "id": .string("rec-\(i)"),
            "text": .string(text),
            "tokens": .array(tokens),
            "meta": .object(["n": .number(JSONNumber(i)), "score": floats[Int(next() % 4)], "ok": .bool(i % 2 == 0), "none": .null,
                             "nested": .array([.object(["ünï": "cödé"]), .array([])])]),
        ])
        lines.append(record.serialized(.compact))
    }
    return lines
}

func writeLines(_ path: String, _ lines: [String]) throws {
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
}

/// Runs the shard writer; returns the manifest and the writer (ledger, reused count).
@discardableResult
func runShard(_ inputs: [String], into folder: String, rejects: String? = nil, _ configure: (inout ShardOptions) -> Void = { _ in }) throws
    -> (manifest: ShardManifest, writer: ShardWriter)
{
    var options = ShardOptions()
    options.threads = 2
    configure(&options)
    let writer = ShardWriter(options: options, folder: folder)
    let rejectsFile = try rejects.map { try OutputFile(path: $0, compression: OutputCompression(.none)) }
    let manifest = try writer.run(inputs: inputs, rejects: rejectsFile)
    try rejectsFile?.commit()
    return (manifest, writer)
}

/// name → SHA-256 of every file in a folder (hidden ones included), to compare two runs.
func folderDigest(_ folder: String) throws -> [String: String] {
    var out: [String: String] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
        let path = folder + "/" + name
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            out[name] = "<folder>"
            continue
        }
        out[name] = sha256Hex(try readBytes(path))
    }
    return out
}

/// Every record of a shard folder (or file), parsed, plus the reader's problems.
func readShardRecords(_ path: String) throws -> (records: [JSON], problems: [Reject]) {
    let (reader, _) = try ShardSet.openReader(path)
    var records: [JSON] = []
    var problems: [Reject] = []
    while let batch = try reader.nextBatch() {
        for item in batch.items {
            switch item {
            case .record(let raw): records.append(try parseRecord(batch, raw).get())
            case .problem(let r): problems.append(r)
            case .context: break
            }
        }
    }
    return (records, problems)
}

/// The input records, parsed.
func parsedLines(_ lines: [String]) throws -> [JSON] { try lines.map { try JSON.parse($0) } }
