import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite struct ShardResumeTests {
    func options(_ format: ShardFormat, shuffle: Bool) -> (inout ShardOptions) -> Void {
        { o in
            o.format = format
            o.maxShardBytes = 40_000
            o.shuffle = shuffle
            o.seed = 5
        }
    }

    /// Runs until `crashAfter` shards are written, then stops like a killed process.
    func crash(_ inputs: [String], into folder: String, after crashAfter: Int, threads: Int = 1,
               _ configure: (inout ShardOptions) -> Void) throws
    {
        var o = ShardOptions()
        o.threads = threads
        configure(&o)
        let writer = ShardWriter(options: o, folder: folder)
        writer.crashAfterShards = crashAfter
        #expect(throws: SimulatedCrash.self) { try writer.run(inputs: inputs, rejects: nil) }
    }

    @Test(arguments: [(ShardFormat.jsonl, false), (.webdataset, true), (.mds, false), (.mds, true)])
    func resumeAfterACrashGivesTheUninterruptedBytes(format: ShardFormat, shuffle: Bool) throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(500))
        let (reference, _) = try runShard([dir + "/in.jsonl"], into: dir + "/reference", options(format, shuffle: shuffle))
        #expect(reference.shards.count > 5)

        try crash([dir + "/in.jsonl"], into: dir + "/out", after: 3, options(format, shuffle: shuffle))
        // Nothing looks finished: no manifest, no index, no shard under a final name.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/out")
        #expect(left == [ShardWriter.partialFolderName])
        #expect(!ShardVerifier.verify(folder: dir + "/out").ok)
        // --resume (on another thread count) keeps the 3 shards and writes the rest.
        let (resumed, writer) = try runShard([dir + "/in.jsonl"], into: dir + "/out") { o in
            options(format, shuffle: shuffle)(&o)
            o.resume = true
            o.threads = 2
        }
        #expect(writer.reusedShards == 3)
        #expect(resumed.shards == reference.shards)
        // Every file, the manifest included, is byte-identical to the uninterrupted run's.
        #expect(try folderDigest(dir + "/out") == (try folderDigest(dir + "/reference")))
        #expect(ShardVerifier.verify(folder: dir + "/out").ok)
    }

    @Test func resumeRewritesShardsThatNoLongerVerify() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(300))
        let configure = options(.jsonl, shuffle: false)
        let (reference, _) = try runShard([dir + "/in.jsonl"], into: dir + "/reference", configure)
        try crash([dir + "/in.jsonl"], into: dir + "/out", after: 3, configure)
        // Damage one kept shard and delete another: both are written again.
        let partial = dir + "/out/" + ShardWriter.partialFolderName
        var part = try readBytes(partial + "/shard-00001.part")
        part[10] ^= 1
        try Data(part).write(to: URL(fileURLWithPath: partial + "/shard-00001.part"))
        try FileManager.default.removeItem(atPath: partial + "/shard-00002.part")
        let (resumed, writer) = try runShard([dir + "/in.jsonl"], into: dir + "/out") { o in
            configure(&o)
            o.resume = true
        }
        #expect(writer.reusedShards == 1)
        #expect(resumed.shards == reference.shards)
        #expect(ShardVerifier.verify(folder: dir + "/out").ok)
    }

    @Test func resumeOfAFinishedSetKeepsEveryShard() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(200))
        let configure = options(.webdataset, shuffle: true)
        let (first, _) = try runShard([dir + "/in.jsonl"], into: dir + "/out", configure)
        let before = try folderDigest(dir + "/out")
        let (again, writer) = try runShard([dir + "/in.jsonl"], into: dir + "/out") { o in
            configure(&o)
            o.resume = true
        }
        #expect(writer.reusedShards == first.shards.count)
        #expect(again.shards == first.shards)
        #expect(try folderDigest(dir + "/out") == before)
    }

    @Test func resumeRefusesOtherOptionsOrInputs() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(200))
        try crash([dir + "/in.jsonl"], into: dir + "/out", after: 2, options(.jsonl, shuffle: false))
        // Another limit: the kept shards would not fit the new set.
        #expect(throws: ShardOptionError.self) {
            try runShard([dir + "/in.jsonl"], into: dir + "/out") { o in
                options(.jsonl, shuffle: false)(&o)
                o.maxShardBytes = 50_000
                o.resume = true
            }
        }
        // Without --resume the unfinished run is not silently replaced.
        #expect(throws: ShardOptionError.self) {
            try runShard([dir + "/in.jsonl"], into: dir + "/out", options(.jsonl, shuffle: false))
        }
        // A changed input.
        try writeLines(dir + "/in.jsonl", shardTestRecords(201))
        #expect(throws: ShardOptionError.self) {
            try runShard([dir + "/in.jsonl"], into: dir + "/out") { o in
                options(.jsonl, shuffle: false)(&o)
                o.resume = true
            }
        }
        // --overwrite starts over.
        let (m, _) = try runShard([dir + "/in.jsonl"], into: dir + "/out") { o in
            options(.jsonl, shuffle: false)(&o)
            o.overwrite = true
        }
        #expect(m.totalRecords == 201)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/" + ShardWriter.partialFolderName))
    }
}
