import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite struct ShardTests {
    static let formats: [(ShardFormat, ShardCodec)] = [
        (.jsonl, .none), (.jsonl, .gzip), (.jsonl, .zstd),
        (.webdataset, .none), (.webdataset, .gzip), (.webdataset, .zstd),
        (.mds, .none), (.mds, .gzip), (.mds, .zstd),
    ]

    @Test(arguments: formats)
    func everyFormatReadsBackTheInputAndVerifies(format: ShardFormat, codec: ShardCodec) throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = shardTestRecords(300)
        try writeLines(dir + "/in.jsonl", lines)
        let (manifest, writer) = try runShard([dir + "/in.jsonl"], into: dir + "/out") {
            $0.format = format
            $0.codec = codec
            $0.maxShardBytes = 60_000
        }
        #expect(manifest.shards.count > 3)
        #expect(manifest.totalRecords == 300)
        #expect(writer.ledger.balances && writer.ledger.kept == 300 && writer.ledger.rejectedTotal == 0)
        let (records, problems) = try readShardRecords(dir + "/out")
        #expect(problems.isEmpty)
        #expect(records == (try parsedLines(lines)))
        let report = ShardVerifier.verify(folder: dir + "/out", threads: 2)
        #expect(report.ok, "\(report.problems)")
        #expect(report.shards == manifest.shards.count && report.ledger.kept == 300)
        // Nothing of the run is left behind, and names follow the format's convention.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted()
        #expect(!names.contains(ShardWriter.partialFolderName))
        let suffix = ShardNaming.suffix(codec, mds: format == .mds)
        switch format {
        case .jsonl: #expect(names.first == "manifest.json" && names.contains("train-00000-of-\(String(manifest.shards.count, digits: 5)).jsonl\(suffix)"))
        case .webdataset: #expect(names.contains("train-000000.tar\(suffix)"))
        case .mds: #expect(names.contains("index.json") && names.contains("shard.00000.mds\(suffix)"))
        }
    }

    @Test(arguments: [ShardFormat.jsonl, .webdataset, .mds])
    func sameInputAndSeedGiveTheSameBytesForAnyThreadCount(format: ShardFormat) throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(400))
        var digests: [[String: String]] = []
        for (run, threads) in [1, 2, 5, 2].enumerated() {
            try runShard([dir + "/in.jsonl"], into: dir + "/out\(run)") {
                $0.format = format
                $0.threads = threads
                $0.shuffle = true
                $0.seed = 1234
                $0.maxShardBytes = 50_000
            }
            digests.append(try folderDigest(dir + "/out\(run)"))
        }
        #expect(digests[0].count > 4)
        for d in digests.dropFirst() { #expect(d == digests[0]) }
        // Another seed: same records, another order.
        try runShard([dir + "/in.jsonl"], into: dir + "/other") {
            $0.format = format
            $0.shuffle = true
            $0.seed = 1235
            $0.maxShardBytes = 50_000
        }
        let a = try readShardRecords(dir + "/out0").records
        let b = try readShardRecords(dir + "/other").records
        #expect(a != b)
        #expect(Set(a.map(\.canonicalString)) == Set(b.map(\.canonicalString)))
        #expect(a.count == 400)
    }

    @Test func theShuffleDoesNotDependOnMemoryOrBuckets() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = shardTestRecords(700)
        try writeLines(dir + "/in.jsonl", lines)
        // A 64 KiB bucket budget forces buckets to be split again (several levels); 1 GiB keeps one.
        for (name, budget) in [("small", 1 << 16), ("large", 1 << 30)] {
            try runShard([dir + "/in.jsonl"], into: dir + "/" + name) {
                $0.shuffle = true
                $0.seed = 99
                $0.shuffleBucketBytes = budget
                $0.codec = ShardCodec.none
            }
        }
        #expect(try folderDigest(dir + "/small") == (try folderDigest(dir + "/large")))
        // The order is the records sorted by the seeded key of their position.
        let expected = try parsedLines(lines).enumerated()
            .sorted { shuffleKey(index: UInt64($0.offset), seed: 99) < shuffleKey(index: UInt64($1.offset), seed: 99) }.map(\.element)
        #expect(try readShardRecords(dir + "/small").records == expected)
        // The buckets are gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/small").allSatisfy { !$0.hasPrefix(".") })
    }

    @Test func shardsCloseAtTheByteAndRecordLimits() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = shardTestRecords(500)
        try writeLines(dir + "/in.jsonl", lines)
        let limit = 30_000
        let (jsonl, _) = try runShard([dir + "/in.jsonl"], into: dir + "/jsonl") { $0.maxShardBytes = limit }
        let sizes = lines.map { $0.utf8.count + 1 }
        var at = 0
        for s in jsonl.shards {
            let own = sizes[at..<(at + s.records)]
            // Within the limit, unless one record alone is bigger; and the next record would not have fit.
            #expect(s.uncompressedBytes <= limit || s.records == 1)
            #expect(s.uncompressedBytes == own.reduce(0, +))
            if at + s.records < sizes.count { #expect(s.uncompressedBytes + sizes[at + s.records] > limit) }
            at += s.records
        }
        #expect(at == 500)
        #expect(jsonl.shards.contains { $0.records == 1 && $0.uncompressedBytes > limit })

        let (byCount, _) = try runShard([dir + "/in.jsonl"], into: dir + "/count") {
            $0.maxShardRecords = 64
            $0.maxShardBytes = 1 << 30
        }
        #expect(byCount.shards.map(\.records) == [64, 64, 64, 64, 64, 64, 64, 52])

        let (tar, _) = try runShard([dir + "/in.jsonl"], into: dir + "/tar") {
            $0.format = .webdataset
            $0.maxShardBytes = limit
        }
        for s in tar.shards {
            #expect(s.uncompressedBytes % 10240 == 0)
            #expect(s.uncompressedBytes <= limit || s.records == 1)
        }
    }

    @Test func mdsBytesMatchMosaicMLStreamingsWriter() throws {
        // Reference written by streaming.MDSWriter 0.13 (tools/shards/make_mds_fixture.py) from our own records.
        let ref = Paths.fixture("shards/mds-reference")
        let lines = try String(contentsOfFile: ref + "/records.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        let columns = try ["id:str", "turn:int", "messages:json", "meta:json", "input_ids:ndarray:int32", "mask:ndarray:uint8:8", "flag:uint8", "blob:bytes"]
            .map { try MDSColumn.parse($0) }
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, limit, hashes, count) in [("limit-4096", 4096, ["sha1", "sha256"], 24), ("limit-tiny", 300, ["md5"], 6), ("default-limit", 1 << 26, [], 24)] {
            try writeLines(dir + "/\(name).jsonl", Array(lines.prefix(count)))
            try runShard([dir + "/\(name).jsonl"], into: dir + "/" + name) {
                $0.format = .mds
                $0.codec = ShardCodec.none
                $0.columns = columns
                $0.maxShardBytes = limit
                $0.mdsHashes = hashes
            }
            let expected = try FileManager.default.contentsOfDirectory(atPath: ref + "/" + name).sorted()
            #expect(expected.count >= 2)
            for file in expected {
                let ours = try readBytes(dir + "/\(name)/" + file)
                let theirs = try readBytes(ref + "/\(name)/" + file)
                let firstDifference = zip(ours, theirs).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? (ours.count == theirs.count ? nil : min(ours.count, theirs.count))
                #expect(firstDifference == nil, "\(name)/\(file) differs from MDSWriter's at byte \(firstDifference ?? -1)")
            }
            // And they read back as the input.
            #expect(try readShardRecords(dir + "/" + name).records == (try parsedLines(Array(lines.prefix(count)))))
        }
        // MDSWriter's size rule leaves an empty shard 0 when the first sample exceeds the limit.
        let tiny = try readBytes(ref + "/limit-tiny/shard.00000.mds")
        #expect(readUInt32(tiny, 0) == 0)
    }

    @Test func deterministicHeaders() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(20))
        let (gz, _) = try runShard([dir + "/in.jsonl"], into: dir + "/gz") { $0.codec = .gzip }
        let gzBytes = try readBytes(dir + "/gz/" + gz.shards[0].file)
        #expect(Array(gzBytes[0..<10]) == [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3])  // no name, mtime 0, Unix

        let (zst, _) = try runShard([dir + "/in.jsonl"], into: dir + "/zst") { $0.codec = .zstd }
        let z = try readBytes(dir + "/zst/" + zst.shards[0].file)
        #expect(Array(z[0..<4]) == [0x28, 0xB5, 0x2F, 0xFD])
        // Frame header descriptor: the content size field is present (mosaicml-streaming needs it).
        #expect(z[4] >> 6 != 0 || z[4] & 0x20 != 0)

        let (tar, _) = try runShard([dir + "/in.jsonl"], into: dir + "/tar") {
            $0.format = .webdataset
            $0.codec = ShardCodec.none
            $0.members = [WebDatasetMember(ext: "txt", field: "text")]
        }
        let t = try readBytes(dir + "/tar/" + tar.shards[0].file)
        func field(_ header: Int, _ at: Int, _ n: Int) -> String {
            String(decoding: t[(header + at)..<(header + at + n)].prefix { $0 != 0 }, as: UTF8.self)
        }
        #expect(field(0, 0, 100) == "000000000.json")
        #expect(field(0, 136, 12).trimmingCharacters(in: .whitespaces) == "00000000000")  // mtime
        #expect(Int(field(0, 108, 8).trimmingCharacters(in: .whitespaces), radix: 8) == 0)  // uid
        #expect(Int(field(0, 116, 8).trimmingCharacters(in: .whitespaces), radix: 8) == 0)  // gid
        #expect(field(0, 265, 32) == "root" && field(0, 297, 32) == "root")
        #expect(field(0, 257, 6) == "ustar")
        // The second member of sample 0 is its .txt, right after its .json.
        let jsonSize = Int(field(0, 124, 12).trimmingCharacters(in: .whitespaces), radix: 8)!
        #expect(field(512 + (jsonSize + 511) / 512 * 512, 0, 100) == "000000000.txt")
    }

    @Test func unusableRecordsAreRejectedWithTheirPlace() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = [
            #"{"id":"a","n":1,"tokens":[1,2]}"#,
            #"{"id":"b","n":2,"tokens":[3]"#,  // truncated JSON
            #"[1,2,3]"#,  // not an object
            #"{"id":"c","n":"three","tokens":[4]}"#,  // n is not an int
            #"{"id":"d","tokens":[5]}"#,  // n missing
            #"{"id":"e","n":5,"tokens":[],"extra":1}"#,  // undeclared key
            #"{"id":"f","n":6,"tokens":[70000000000]}"#,  // does not fit int32
            #"{"id":"g","n":7,"tokens":[]}"#,  // empty ndarray
            #"{"id":"h","n":8,"tokens":[8,9]}"#,
        ]
        try writeLines(dir + "/in.jsonl", lines)
        let (manifest, writer) = try runShard([dir + "/in.jsonl"], into: dir + "/mds", rejects: dir + "/mds.rejects.jsonl") {
            $0.format = .mds
            $0.columns = [MDSColumn(name: "id", encoding: .str), MDSColumn(name: "n", encoding: .int), MDSColumn(name: "tokens", encoding: .ndarray(.int32, length: nil))]
        }
        #expect(manifest.totalRecords == 2)
        let ledger = writer.ledger
        #expect(ledger.input == 9 && ledger.kept == 2 && ledger.balances)
        #expect(ledger.rejected == ["invalid-json": 1, "wrong-type": 4, "missing-field": 1, "unrecognized-format": 1])
        let rejects = try readJSONL(dir + "/mds.rejects.jsonl")
        #expect(rejects.map { $0["line"]?.int } == [2, 3, 4, 5, 6, 7, 8])
        #expect(rejects[3]["detail"]?.string == "column 'n' is missing")
        #expect(rejects[4]["detail"]?.string?.contains("'extra' is not an MDS column") == true)
        #expect(rejects[5]["detail"]?.string?.contains("not an integer that fits int32") == true)
        #expect(rejects[6]["detail"]?.string?.contains("empty list cannot be stored") == true)

        // WebDataset keys from a field: no dots, no repeats of the previous key.
        let wds = [#"{"id":"a-1"}"#, #"{"id":"b.2"}"#, #"{"id":"a-1"}"#, #"{"id":"c_3"}"#, #"{"id":"c_3"}"#, #"{"x":1}"#]
        try writeLines(dir + "/keys.jsonl", wds)
        let (m2, w2) = try runShard([dir + "/keys.jsonl"], into: dir + "/wds", rejects: dir + "/wds.rejects.jsonl") {
            $0.format = .webdataset
            $0.keyField = "id"
        }
        // Line 3 repeats line 1's key: line 2 was rejected, so they would be adjacent.
        #expect(m2.totalRecords == 2 && w2.ledger.input == 6 && w2.ledger.balances)
        let r2 = try readJSONL(dir + "/wds.rejects.jsonl")
        #expect(r2.map { $0["line"]?.int } == [2, 3, 5, 6])
        #expect(r2[0]["detail"]?.string?.contains("first dot") == true)
        #expect(r2[1]["detail"]?.string?.contains("repeats the previous sample's key") == true)
        #expect(r2[2]["detail"]?.string?.contains("repeats the previous sample's key") == true)
        #expect(r2[3]["reason"]?.string == "missing-field")
        #expect(try readShardRecords(dir + "/wds").records.map { $0["id"]?.string } == ["a-1", "c_3"])
    }

    @Test func emptyInputWritesAnEmptySetAndDamagedInputIsRejected() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data().write(to: URL(fileURLWithPath: dir + "/empty.jsonl"))
        let (empty, _) = try runShard([dir + "/empty.jsonl"], into: dir + "/empty") { $0.format = .mds }
        #expect(empty.shards.isEmpty)
        #expect(ShardVerifier.verify(folder: dir + "/empty").ok)
        #expect(FileManager.default.fileExists(atPath: dir + "/empty/index.json"))

        // A gzip input cut in the middle: the records before the cut are kept, the rest is one reject.
        let lines = shardTestRecords(200)
        try writeLines(dir + "/in.jsonl", lines)
        try runShard([dir + "/in.jsonl"], into: dir + "/gz") {
            $0.codec = .gzip
            $0.maxShardBytes = 1 << 30
        }
        let gzName = try FileManager.default.contentsOfDirectory(atPath: dir + "/gz").first { $0.hasSuffix(".gz") }!
        let gz = try readBytes(dir + "/gz/" + gzName)
        try Data(gz.prefix(gz.count / 2)).write(to: URL(fileURLWithPath: dir + "/cut.jsonl.gz"))
        let (cut, writer) = try runShard([dir + "/cut.jsonl.gz"], into: dir + "/cut", rejects: dir + "/cut.rejects.jsonl")
        #expect(cut.totalRecords > 20 && cut.totalRecords < 200)
        #expect(writer.ledger.rejected == ["corrupt-stream": 1])
        #expect(try readShardRecords(dir + "/cut").records == Array(try parsedLines(lines).prefix(cut.totalRecords)))
    }

    @Test func manifestRecordsInputsOptionsAndTotals() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = shardTestRecords(50)
        try writeLines(dir + "/in.jsonl", lines)
        let (m, _) = try runShard([dir + "/in.jsonl"], into: dir + "/out") {
            $0.format = .webdataset
            $0.split = "validation"
            $0.maxShardRecords = 20
        }
        let json = try JSON.parse(try readBytes(dir + "/out/manifest.json"))
        #expect(json["split"]?.string == "validation")
        #expect(json["urls"]?.string == "validation-{000000..000002}.tar.zst")
        #expect(json["trajforge_version"]?.string == TrajForgeVersion.string)
        #expect(json["totals"]?["records"]?.int == 50 && json["totals"]?["shards"]?.int == 3)
        let input = json["inputs"]?.array?.first
        #expect(input?["sha256"]?.string == sha256Hex(try readBytes(dir + "/in.jsonl")))
        #expect(input?["bytes"]?.int == (try readBytes(dir + "/in.jsonl")).count)
        #expect(json["options"]?["max_shard_records"]?.int == 20 && json["options"]?["compression"]?.string == "zstd")
        #expect(json["ledger"]?["kept"]?.int == 50)
        #expect(m.shards.map(\.file) == ["validation-000000.tar.zst", "validation-000001.tar.zst", "validation-000002.tar.zst"])
        for s in m.shards {
            let bytes = try readBytes(dir + "/out/" + s.file)
            #expect(bytes.count == s.compressedBytes && sha256Hex(bytes) == s.sha256)
        }
        // No clock in it: a second run writes the same manifest.
        try runShard([dir + "/in.jsonl"], into: dir + "/again") {
            $0.format = .webdataset
            $0.split = "validation"
            $0.maxShardRecords = 20
            $0.threads = 1
        }
        #expect(try readBytes(dir + "/out/manifest.json") == (try readBytes(dir + "/again/manifest.json")))
    }

    @Test func existingSetsAreNotOverwrittenByAccident() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", shardTestRecords(30))
        try runShard([dir + "/in.jsonl"], into: dir + "/out") { $0.maxShardRecords = 10 }
        #expect(throws: ShardOptionError.self) { try runShard([dir + "/in.jsonl"], into: dir + "/out") }
        // --overwrite replaces the set: the old shard files go (here 3 → 1 shard).
        let (m, _) = try runShard([dir + "/in.jsonl"], into: dir + "/out") { $0.overwrite = true }
        #expect(m.shards.count == 1)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted()
        #expect(names == ["manifest.json", "train-00000-of-00001.jsonl.gz"])
    }

    @Test func scannerAgreesWithTheParser() {
        // Edge cases, then thousands of seeded mutations of real-looking records.
        var cases: [[UInt8]] = [
            #"{"a":"\ud83e\udd14"}"#, #"{"a":"\ud800"}"#, #"{"a":"\udc00"}"#, #"{"a":"\ud800\u0041"}"#, #"{"a":"\u12G4"}"#,
            #"{"a":1.}"#, #"{"a":-}"#, #"{"a":01}"#, #"{"a":1e}"#, #"{"a":1E+5,"b":-0.0e-7}"#, #"{"a":tru}"#, #"{"a":nul}"#,
            #"{"a":[1,]}"#, #"{"a":1,}"#, #"{,}"#, #"{}"#, #"[]"#, #""x""#, "", "  ", "{\"a\":\"\u{0}\"}", "{\"a\":\"\t\"}",
            "{\"a\":\"\u{7F}\"}", " {\"a\":1} \r", "{\"a\":\n1}", "{\"a\":1}\n{\"b\":2}", "\u{FEFF}{\"a\":1}",
        ].map { Array($0.utf8) }
        cases += [[0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0x80, 0x22, 0x7D], [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D],
                  [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xF4, 0x90, 0x80, 0x80, 0x22, 0x7D], [0x7B, 0x22, 0xC3, 0x22, 0x3A, 0x31, 0x7D]]
        cases.append(Array((String(repeating: "[", count: 999) + String(repeating: "]", count: 999)).utf8))
        cases.append(Array((String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)).utf8))
        cases.append(Array((String(repeating: "[", count: 1001) + String(repeating: "]", count: 1001)).utf8))
        let interesting: [UInt8] = Array("\"\\u0D8{}[],: \net-+.".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xA0, 0xF4, 0x90, 0xFF, 0x0D]
        var state: UInt64 = 7
        func next(_ bound: Int) -> Int {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            return Int(mix64(state) % UInt64(max(1, bound)))
        }
        for line in shardTestRecords(60) {
            let base = Array(line.utf8.prefix(600))
            cases.append(Array(line.utf8))
            for _ in 0..<80 {
                var m = base
                for _ in 0..<(1 + next(3)) {
                    switch next(4) {
                    case 0: m[next(m.count)] = interesting[next(interesting.count)]
                    case 1: m.insert(interesting[next(interesting.count)], at: next(m.count + 1))
                    case 2: if !m.isEmpty { m.remove(at: next(m.count)) }
                    default: m = Array(m.prefix(next(m.count + 1)))
                    }
                    if m.isEmpty { break }
                }
                cases.append(m)
            }
        }
        var valid = 0
        for bytes in cases {
            let scan = bytes.withUnsafeBytes { JSONScan.scan($0) }
            let parsed = try? JSON.parse(bytes)
            #expect(scan.valid == (parsed != nil), "\(String(decoding: bytes.prefix(120), as: UTF8.self))")
            if case .object? = parsed { #expect(scan.isObject) } else { #expect(!scan.isObject) }
            if parsed != nil {
                valid += 1
                let trimmed = RecordEncoder.trimmed(bytes[...])
                #expect(scan.hasLineBreak == (trimmed.contains(0x0A) || trimmed.contains(0x0D)))
            }
        }
        #expect(cases.count > 4800 && valid > 300)
    }

    @Test func pythonStyleStringsMatchTheASCIIWriter() throws {
        var strings = ["", "plain", "quote \" back \\ slash", "\u{0}\u{1}\u{1F}\u{7F}\t\n\r\u{8}\u{C}", "é東京🧪👩‍🔬", "\u{FFFF}\u{10000}\u{10FFFF}"]
        for line in shardTestRecords(40) {
            if case .object(let o) = try JSON.parse(line), let t = o["text"]?.string { strings.append(t) }
        }
        for s in strings {
            var ours: [UInt8] = []
            appendASCIIString(s, into: &ours)
            var theirs: [UInt8] = []
            JSONWriter.appendString(s, asciiOnly: true, into: &theirs)
            #expect(ours == theirs, "\(s.prefix(40))")
        }
    }

    @Test func optionsAreValidated() {
        func invalid(_ change: (inout ShardOptions) -> Void) -> Bool {
            var o = ShardOptions()
            change(&o)
            do { try o.validate() } catch { return true }
            return false
        }
        #expect(invalid { $0.codec = .gzip; $0.level = 10 })
        #expect(invalid { $0.codec = .zstd; $0.level = 0 })
        #expect(invalid { $0.codec = ShardCodec.none; $0.level = 3 })
        #expect(invalid { $0.maxShardBytes = 1 << 32 })
        #expect(invalid { $0.keyField = "id" })
        #expect(invalid { $0.format = .mds; $0.mdsHashes = ["sha256", "sha1"] })
        #expect(invalid { $0.format = .mds; $0.mdsHashes = ["xxh64"] })
        #expect(invalid { $0.split = "a/b" })
        #expect(!invalid { $0.format = .mds; $0.codec = .gzip; $0.level = 0 })
        #expect(throws: ShardOptionError.self) { try MDSColumn.parse("x:ndarray:float32") }
        #expect(throws: ShardOptionError.self) { try WebDatasetMember.parse("json=text") }
        #expect(throws: ShardOptionError.self) { try WebDatasetMember.parse("TXT=text") }
        #expect(parseByteSize("64MiB") == 64 << 20 && parseByteSize("100MB") == 100_000_000 && parseByteSize("1.5k") == 1500)
        #expect(parseByteSize("12 parsecs") == nil)
    }
}
