import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite(.serialized) struct ShardCLITests {
    @Test func helpTeachesWithExamples() throws {
        for (command, needle) in [("shard", "trajforge shard --format webdataset"), ("verify", "sha256-mismatch"), ("cat", "trajforge cat shards/train")] {
            let r = try CLI.run([command, "--help"])
            #expect(r.status == 0)
            let text = String(decoding: r.stdout, as: UTF8.self)
            #expect(text.contains("Examples:") && text.contains(needle), "\(command) --help")
        }
    }

    @Test func badArgumentsAreUsageErrors() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(5))
        for (args, message) in [
            (["shard", "--format", "parquet", dir + "/in.jsonl", "-o", dir + "/o"], "--format must be jsonl, webdataset or mds"),
            (["shard", "--level", "30", "--compression", "gzip", dir + "/in.jsonl", "-o", dir + "/o"], "out of range for gzip"),
            (["shard", "--max-shard-bytes", "lots", dir + "/in.jsonl", "-o", dir + "/o"], "cannot read \"lots\""),
            (["shard", "--format", "mds", "--column", "x:float", dir + "/in.jsonl", "-o", dir + "/o"], "unknown encoding 'float'"),
            (["shard", "--key-field", "id", dir + "/in.jsonl", "-o", dir + "/o"], "--key-field applies to --format webdataset only"),
            (["shard", dir + "/in.jsonl"], "Missing expected argument '--output <dir>'"),
            (["shard", "--resume", "-", "-o", dir + "/o"], "--resume needs input files"),
        ] {
            let r = try CLI.run(args, stdin: [])
            #expect(r.status == 64, "\(args)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        let missing = try CLI.run(["shard", dir + "/nope.jsonl", "-o", dir + "/o"])
        #expect(missing.status == 74 && missing.stderr.contains("nope.jsonl: cannot open"))
    }

    @Test func shardVerifyCatRoundTrip() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = shardTestRecords(120)
        try writeLines(dir + "/in.jsonl", lines)
        let r = try CLI.run(["shard", "--format", "webdataset", "--max-shard-bytes", "60kB", "--member", "txt=text", dir + "/in.jsonl", "-o", dir + "/wds"])
        #expect(r.status == 0, "\(r.stderr)")
        let manifest = try ShardManifest.parse(try readBytes(dir + "/wds/manifest.json"))
        let last = String(manifest.shards.count - 1, digits: 6)
        #expect(String(decoding: r.stdout, as: UTF8.self) == dir + "/wds/train-{000000..\(last)}.tar.zst\n")
        #expect(r.stderr.contains("shard: in 120 = kept 120 + dropped 0 + rejected 0"))
        #expect(r.stderr.contains("wrote \(manifest.shards.count) shards to"))

        let verify = try CLI.run(["verify", dir + "/wds"])
        #expect(verify.status == 0 && verify.stderr.contains("verify: OK, \(manifest.shards.count) shards, 120 records"))

        let cat = try CLI.run(["cat", dir + "/wds"])
        #expect(cat.status == 0 && cat.stderr.contains("cat: in 120 = kept 120"))
        #expect(try cat.stdout.split(separator: 0x0A).map { try JSON.parse(Array($0)) } == (try parsedLines(lines)))
        // One shard file on its own, and the stream feeding another command (canon reads stdin).
        let one = try CLI.run(["cat", dir + "/wds/" + manifest.shards[1].file, "-q"])
        #expect(one.stdout.split(separator: 0x0A).count == manifest.shards[1].records)
        let canon = try CLI.run(["canon", "-"], stdin: cat.stdout)
        #expect(canon.status == 0 && canon.stdout.split(separator: 0x0A).count == 120)

        // A flipped byte: verify names it and fails; cat still streams what it can.
        var bytes = try readBytes(dir + "/wds/" + manifest.shards[0].file)
        bytes[bytes.count - 9] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/wds/" + manifest.shards[0].file))
        let bad = try CLI.run(["verify", dir + "/wds"])
        #expect(bad.status == 65)
        #expect(String(decoding: bad.stdout, as: UTF8.self).contains("sha256-mismatch: \(manifest.shards[0].file): SHA-256 is"))
        #expect(bad.stderr.contains("verify: FAILED"))
        let json = try CLI.run(["verify", "--json", dir + "/wds"])
        #expect(try JSON.parse(json.stdout)["ok"] == .bool(false))

        // The folder is taken: a second run says how to go on.
        let again = try CLI.run(["shard", "--format", "webdataset", dir + "/in.jsonl", "-o", dir + "/wds"])
        #expect(again.status == 64 && again.stderr.contains("--resume") && again.stderr.contains("--overwrite"))
    }

    @Test func standardInputStrictAndLedgerFile() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var lines = shardTestRecords(30)
        lines.insert("not json", at: 7)
        let r = try CLI.run(["shard", "--format", "mds", "-", "-o", dir + "/mds", "--strict", "--ledger", dir + "/ledger.json"],
                            stdin: Array((lines.joined(separator: "\n") + "\n").utf8))
        #expect(r.status == 65)
        #expect(r.stderr.contains("shard: in 31 = kept 30 + dropped 0 + rejected 1"))
        #expect(r.stderr.contains("rejects: \(dir)/mds.rejects.jsonl"))
        let rejects = try readJSONL(dir + "/mds.rejects.jsonl")
        #expect(rejects.count == 1 && rejects[0]["line"]?.int == 8 && rejects[0]["reason"]?.string == "invalid-json")
        let ledger = try JSON.parse(try readBytes(dir + "/ledger.json"))
        #expect(ledger["kept"]?.int == 30)
        #expect(String(decoding: r.stdout, as: UTF8.self) == dir + "/mds\n")
        let manifest = try JSON.parse(try readBytes(dir + "/mds/manifest.json"))
        #expect(manifest["inputs"]?.array?.first?["path"]?.string == "-")
        #expect(manifest["inputs"]?.array?.first?["sha256"]?.string == sha256Hex(Array((lines.joined(separator: "\n") + "\n").utf8)))
    }
}
