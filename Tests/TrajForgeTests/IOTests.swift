import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite struct IOTests {
    /// Collects (bytes, line, index) of every record a reader yields.
    func drain(_ reader: RecordReader) throws -> (records: [(String, Int, Int, Int)], problems: [Reject]) {
        var records: [(String, Int, Int, Int)] = []
        var problems: [Reject] = []
        while let batch = try reader.nextBatch() {
            for item in batch.items {
                switch item {
                case .record(let r):
                    records.append((String(decoding: batch.storage[r.range], as: UTF8.self), r.location.line, r.location.index, r.location.offset))
                case .problem(let p): problems.append(p)
                case .context: break
                }
            }
        }
        return (records, problems)
    }

    @Test func jsonlLinesAcrossChunkBoundariesWithCRLFAndNoFinalNewline() throws {
        // Records longer than the 1 MiB read buffer, CRLF endings, blank lines, no final newline.
        let long = String(repeating: "é", count: 700_000)
        let text = "{\"a\":1}\r\n\n{\"b\":\"\(long)\"}\n   \n{\"c\":3}"
        let reader = JSONLReader(source: MemorySource(Array(text.utf8)), file: "t", limits: ReaderLimits(batchBytes: 64))
        let (records, problems) = try drain(reader)
        #expect(problems.isEmpty)
        #expect(records.map(\.1) == [1, 3, 5])
        #expect(records.map(\.2) == [0, 1, 2])
        #expect(records[0].0 == "{\"a\":1}\r")
        #expect(records[1].0.utf8.count == long.utf8.count + 8)
        #expect(records[2].0 == "{\"c\":3}")
        #expect(records[1].3 == Array("{\"a\":1}\r\n\n".utf8).count)
        #expect(reader.blankLines == 2)
    }

    @Test func arrayElementsWithBracketsInsideStrings() throws {
        let text = """
            \u{FEFF}[
              {"s": "a ] } , [ { \\" \\\\"},
              [1, [2, {"x": "]"}]],
              "plain",
              -12.5e3 ,
              null
            ]
            """
        let reader = JSONContainerReader(source: MemorySource(Array(text.utf8)), file: "t", shape: .array)
        let (records, problems) = try drain(reader)
        #expect(problems.isEmpty)
        #expect(records.map(\.0) == [#"{"s": "a ] } , [ { \" \\"}"#, #"[1, [2, {"x": "]"}]]"#, #""plain""#, "-12.5e3", "null"])
        #expect(records.map(\.1) == [2, 3, 4, 5, 6])
        for r in records { #expect((try? JSON.parse(r.0)) != nil) }
    }

    /// A large array is read in bounded batches, each closing between elements (memory must not
    /// grow with the file: a batch once held the whole array).
    @Test func arrayBatchesStayBounded() throws {
        let elements = (0..<5000).map { #"{"k": \#($0), "text": "\#(String(repeating: "x", count: 200))"}"# }
        let text = "[\n" + elements.joined(separator: ",\n") + "\n]"
        let limits = ReaderLimits(batchBytes: 64 << 10, batchRecords: 2048)
        let reader = JSONContainerReader(source: MemorySource(Array(text.utf8)), file: "t", shape: .array, limits: limits)
        var batches = 0, records: [String] = []
        while let batch = try reader.nextBatch() {
            batches += 1
            #expect(batch.storage.count < (64 << 10) + 4096, "batch of \(batch.storage.count) bytes")
            for case .record(let r) in batch.items { records.append(String(decoding: batch.storage[r.range], as: UTF8.self)) }
        }
        #expect(records == elements)
        #expect(batches > 10)
    }

    @Test func arrayStructureProblems() throws {
        func problems(_ text: String) throws -> [String] {
            try drain(JSONContainerReader(source: MemorySource(Array(text.utf8)), file: "t", shape: .array)).problems.map(\.detail)
        }
        #expect(try problems("[1, 2] 3").first?.contains("extra data") == true)
        #expect(try problems("[1,,2]").first?.contains("empty array element") == true)
        #expect(try problems("[1, 2,]").first?.contains("trailing comma") == true)
        #expect(try problems("{\"a\": 1}").first?.contains("to start with '['") == true)
        #expect(try problems("[1, {\"a\": [2").first?.contains("truncated") == true)
        #expect(try problems("[]").isEmpty)
    }

    @Test func documentMembersAndStreamedArray() throws {
        let text = #"{"info": {"x": [1, 2]}, "simulations": [{"id": 1}, {"id": 2}], "tasks": ["t"]}"#
        let context = try drain(JSONContainerReader(source: MemorySource(Array(text.utf8)), file: "t",
                                                     shape: .object(streamKey: "simulations", collectContext: true, emitRecords: false)))
        #expect(context.records.isEmpty && context.problems.isEmpty)
        let records = try drain(JSONContainerReader(source: MemorySource(Array(text.utf8)), file: "t",
                                                     shape: .object(streamKey: "simulations", collectContext: false, emitRecords: true)))
        #expect(records.records.map(\.0) == [#"{"id": 1}"#, #"{"id": 2}"#])
        #expect(records.records.map(\.2) == [0, 1])
    }

    @Test func containerSniffing() {
        #expect(Container.sniff(Array("  [1]".utf8)) == .array)
        #expect(Container.sniff(Array("{\"a\":1}\n{\"a\":2}\n".utf8)) == .jsonl)
        #expect(Container.sniff(Array("{\n  \"info\": 1\n}".utf8)) == .document)
        #expect(Container.sniff(Array("\u{FEFF}{\"a\":1}".utf8)) == .jsonl)
        #expect(Container.sniff(Array(" \n\t".utf8)) == .empty)
        #expect(Container.sniff(Array("garbage\n".utf8)) == .jsonl)
    }

    @Test func atomicOutputAppearsOnlyOnCommit() throws {
        let dir = temporaryFolder()
        let path = dir + "/sub/folder/out.jsonl.gz"
        do {
            let file = try OutputFile(path: path, compression: OutputCompression(.gzip))
            try file.write(Array("{\"a\":1}\n".utf8))
            #expect(!FileManager.default.fileExists(atPath: path))
            file.abort()
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/sub/folder").isEmpty)

        let file = try OutputFile(path: path, compression: OutputCompression(.gzip))
        try file.write(Array("{\"a\":1}\n".utf8))
        try file.commit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/sub/folder") == ["out.jsonl.gz"])
        let bytes = try readBytes(path)
        #expect(bytes[4..<8] == [0, 0, 0, 0])  // gzip header mtime 0: reproducible
        let back = try GzipSource(MemorySource(bytes), path: path).readUpTo(100)
        #expect(back == Array("{\"a\":1}\n".utf8))
    }

    @Test func compressedOutputIsReproducible() throws {
        let dir = temporaryFolder()
        var data: [UInt8] = []
        for k in 0..<5000 { data += Array("{\"k\":\(k),\"text\":\"line \(k) ünïcödé\"}\n".utf8) }
        for codec in [Compression.gzip, .zstd] {
            var hashes: [[UInt8]] = []
            for run in 0..<2 {
                let path = dir + "/out\(run)\(codec.suffix)"
                let file = try OutputFile(path: path, compression: OutputCompression(codec))
                for chunk in stride(from: 0, to: data.count, by: 7000) { try file.write(Array(data[chunk..<min(data.count, chunk + 7000)])) }
                try file.commit()
                hashes.append(try readBytes(path))
                let (source, sniffed) = try openDecompressed(path)
                #expect(sniffed == codec)
                #expect(try source.readUpTo(data.count + 10) == data)
            }
            #expect(hashes[0] == hashes[1])
        }
    }

    @Test func concatenatedGzipMembersAreOneStream() throws {
        let dir = temporaryFolder()
        var bytes: [UInt8] = []
        for part in ["{\"a\":1}\n", "{\"a\":2}\n"] {
            let path = dir + "/part.gz"
            let file = try OutputFile(path: path, compression: OutputCompression(.gzip))
            try file.write(Array(part.utf8))
            try file.commit()
            bytes += try readBytes(path)
        }
        let source = try GzipSource(MemorySource(bytes), path: "cat.gz")
        #expect(try source.readUpTo(100) == Array("{\"a\":1}\n{\"a\":2}\n".utf8))
    }
}
