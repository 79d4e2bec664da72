import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite struct ShardVerifyTests {
    /// A fresh set of several shards in `format`; returns its folder and manifest.
    func makeSet(_ format: ShardFormat, codec: ShardCodec? = nil, name: String = #function) throws -> (String, ShardManifest) {
        let dir = temporaryFolder(name)
        try writeLines(dir + "/in.jsonl", shardTestRecords(240))
        let (manifest, _) = try runShard([dir + "/in.jsonl"], into: dir + "/out") {
            $0.format = format
            $0.codec = codec
            $0.maxShardBytes = 80_000
        }
        #expect(manifest.shards.count >= 4)
        #expect(ShardVerifier.verify(folder: dir + "/out").ok)
        return (dir + "/out", manifest)
    }

    func problems(_ folder: String) -> [VerifyProblem] { ShardVerifier.verify(folder: folder, threads: 2).problems }

    static let all: [(ShardFormat, ShardCodec)] = [(.jsonl, .gzip), (.jsonl, .zstd), (.webdataset, .zstd), (.webdataset, .none), (.mds, .zstd), (.mds, .none)]

    @Test(arguments: all)
    func aFlippedByteIsNamed(format: ShardFormat, codec: ShardCodec) throws {
        let (out, m) = try makeSet(format, codec: codec)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path) }
        let victim = m.shards[1]
        var bytes = try readBytes(out + "/" + victim.file)
        bytes[bytes.count / 2] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: out + "/" + victim.file))
        let found = problems(out)
        #expect(found.allSatisfy { $0.file == victim.file || $0.file == "index.json" })
        #expect(found.contains { $0.code == "sha256-mismatch" && $0.file == victim.file && $0.detail.contains("flipped byte") })
        #expect(!found.contains { $0.code == "size-mismatch" })
    }

    @Test(arguments: all)
    func aTruncatedShardIsNamed(format: ShardFormat, codec: ShardCodec) throws {
        let (out, m) = try makeSet(format, codec: codec)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path) }
        let victim = m.shards[2]
        let bytes = try readBytes(out + "/" + victim.file)
        try Data(bytes.prefix(bytes.count * 2 / 3)).write(to: URL(fileURLWithPath: out + "/" + victim.file))
        let found = problems(out)
        #expect(found.contains { $0.code == "size-mismatch" && $0.file == victim.file && $0.detail.contains("truncated") })
        #expect(found.contains { $0.code == "sha256-mismatch" && $0.file == victim.file })
        // The damage itself: a stream that ends early (compressed), or a container cut short.
        if codec != .none || format != .jsonl {
            #expect(found.contains { ($0.code == "corrupt-stream" || $0.code == "invalid-record") && $0.file == victim.file })
        }
        #expect(found.contains { $0.code == "count-mismatch" && $0.file == victim.file })
        #expect(found.allSatisfy { $0.file == victim.file || $0.file == "index.json" || $0.file == "manifest.json" })
    }

    @Test(arguments: all)
    func aDeletedShardIsNamed(format: ShardFormat, codec: ShardCodec) throws {
        let (out, m) = try makeSet(format, codec: codec)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path) }
        try FileManager.default.removeItem(atPath: out + "/" + m.shards[0].file)
        let found = problems(out)
        #expect(found == [VerifyProblem(code: "missing-file", file: m.shards[0].file,
                                        detail: "missing (the manifest lists it with \(m.shards[0].records) records, \(m.shards[0].compressedBytes) bytes)")])
    }

    @Test func aCountMismatchIsNamed() throws {
        let (out, m) = try makeSet(.jsonl)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path) }
        // The manifest claims one record more than shard 3 holds (its bytes still match).
        var json = try JSON.parse(try readBytes(out + "/manifest.json"))
        guard case .object(var o) = json, case .array(var shards)? = o["shards"], case .object(var s3) = shards[3] else {
            Issue.record("manifest layout")
            return
        }
        s3["records"] = .number(JSONNumber(m.shards[3].records + 1))
        shards[3] = .object(s3)
        o["shards"] = .array(shards)
        json = .object(o)
        try Data(json.serializedBytes(.pretty)).write(to: URL(fileURLWithPath: out + "/manifest.json"))
        let found = problems(out)
        #expect(found == [VerifyProblem(code: "count-mismatch", file: m.shards[3].file,
                                        detail: "holds \(m.shards[3].records) records; the manifest says \(m.shards[3].records + 1)")])
    }

    @Test func aRewrittenShardWithABadRecordIsNamed() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(40))
        let (m, _) = try runShard([dir + "/in.jsonl"], into: dir + "/out") {
            $0.codec = ShardCodec.none
            $0.maxShardRecords = 10
        }
        // Line 4 of shard 1 broken by hand: the hash differs and the record is named.
        let path = dir + "/out/" + m.shards[1].file
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[3] = String(lines[3].dropLast())
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))
        let found = problems(dir + "/out")
        #expect(found.contains { $0.code == "invalid-record" && $0.detail.hasPrefix("record 4 does not parse") })
        #expect(found.contains { $0.code == "size-mismatch" })
        #expect(found.contains { $0.code == "bytes-mismatch" })
    }

    @Test func mdsIndexMustAgree() throws {
        let (out, _) = try makeSet(.mds)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path) }
        var index = try String(contentsOfFile: out + "/index.json", encoding: .utf8)
        index = index.replacingOccurrences(of: "\"samples\": ", with: "\"samples\": 1")  // 37 -> 137 samples, etc.
        try Data(index.utf8).write(to: URL(fileURLWithPath: out + "/index.json"))
        let found = problems(out)
        #expect(!found.isEmpty && found.allSatisfy { $0.code == "index-mismatch" && $0.detail.contains("samples") })
        try FileManager.default.removeItem(atPath: out + "/index.json")
        #expect(problems(out) == [VerifyProblem(code: "index-mismatch", file: "index.json", detail: "missing (MDS readers need it)")])
    }

    @Test func aFolderWithoutManifestIsAProblem() {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let found = problems(dir)
        #expect(found.count == 1 && found[0].code == "manifest" && found[0].detail.contains("no manifest.json"))
        #expect(problems(dir + "/nope").first?.detail.contains("not a folder") == true)
        try? Data("{\"manifest_version\": 7}".utf8).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
        #expect(problems(dir).first?.detail.contains("manifest_version 7") == true)
    }

    @Test func catReportsDamageAsRejectsAndKeepsGoing() throws {
        let (out, m) = try makeSet(.webdataset)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path) }
        try FileManager.default.removeItem(atPath: out + "/" + m.shards[0].file)
        let bytes = try readBytes(out + "/" + m.shards[2].file)
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: out + "/" + m.shards[2].file))
        let (records, problems) = try readShardRecords(out)
        #expect(problems.count == 2)
        #expect(problems[0].detail == "shard file is missing" && problems[0].file.hasSuffix(m.shards[0].file))
        #expect(problems[1].reason == .corruptStream && problems[1].file.hasSuffix(m.shards[2].file))
        let intact = m.shards[1].records + m.shards[3...].reduce(0) { $0 + $1.records }
        #expect(records.count >= intact && records.count < m.totalRecords - m.shards[0].records)
    }
}
