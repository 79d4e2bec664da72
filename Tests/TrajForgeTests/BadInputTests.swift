import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// Damaged input never stops a run: each problem is one reject with its place and reason.
@Suite struct BadInputTests {
    @Test func eachBrokenLineIsRejectedWithItsLineAndReason() throws {
        let run = try runIngest([Paths.fixture("broken/mixed.jsonl")])
        #expect(run.records.count == 2)
        let got = run.rejected.map { ($0["line"]?.int ?? -1, $0["reason"]?.string ?? "") }
        let want: [(Int, RejectReason)] = [(2, .invalidJSON), (3, .invalidJSON), (4, .orphanToolResult), (5, .unknownRole),
                                           (6, .invalidArguments), (9, .invalidArguments), (10, .missingField)]
        #expect(got.map(\.0) == want.map(\.0))
        #expect(got.map(\.1) == want.map(\.1.rawValue))
        #expect(run.ledger.input == 9 && run.ledger.balances)
        // Invalid UTF-8 is located to the byte (in the file).
        let utf8 = run.rejected[1]
        let text = try readBytes(Paths.fixture("broken/mixed.jsonl"))
        let badByte = text.firstIndex(of: 0xFF)!
        #expect(utf8["detail"]?.string?.contains("invalid UTF-8 at byte \(badByte)") == true)
        #expect(utf8["excerpt"]?.string?.isEmpty == false)
        #expect(run.ledger.notes.contains { $0.contains("skipped 2 blank lines") })
    }

    @Test func shareGPTProblems() throws {
        let run = try runIngest([Paths.fixture("broken/sharegpt-bad.json")])
        #expect(run.records.count == 1)
        #expect(run.rejected.map { $0["reason"]?.string ?? "" } == ["orphan-tool-result", "unknown-role", "orphan-tool-result", "wrong-type"])
        #expect(run.rejected.map { $0["index"]?.int ?? -1 } == [0, 1, 2, 3])
    }

    @Test func emptyFileGivesNoRecordsAndANote() throws {
        let run = try runIngest([Paths.fixture("broken/empty.jsonl")])
        #expect(run.records.isEmpty && run.rejected.isEmpty && run.ledger.input == 0)
        #expect(run.ledger.notes.contains { $0.contains("no records") })
    }

    @Test func truncatedArrayKeepsWhatCameBefore() throws {
        let run = try runIngest([Paths.fixture("broken/truncated-array.json")])
        #expect(run.records.count == 1)
        #expect(run.rejected.count == 1 && run.rejected[0]["reason"] == "malformed-json")
        #expect(run.rejected[0]["detail"]?.string?.contains("truncated") == true)
    }

    @Test func truncatedGzipStreamIsOneRejectAfterTheRecordsItHeld() throws {
        let dir = temporaryFolder()
        let gz = dir + "/good.jsonl.gz"
        let file = try OutputFile(path: gz, compression: OutputCompression(.gzip))
        var lines: [UInt8] = []
        let record = try readBytes(Paths.fixture("openai/messages.jsonl")).split(separator: 0x0A)[0]
        for _ in 0..<2000 { lines += record + [0x0A] }
        try file.write(lines)
        try file.commit()
        let full = try runIngest([gz], folder: dir, outputName: "full.jsonl")
        #expect(full.records.count == 2000 && full.rejected.isEmpty)

        let bytes = try readBytes(gz)
        let cut = dir + "/cut.jsonl.gz"
        try Data(bytes.prefix(bytes.count * 2 / 3)).write(to: URL(fileURLWithPath: cut))
        let run = try runIngest([cut], folder: dir, outputName: "cut.jsonl")
        #expect(run.records.count > 100 && run.records.count < 2000)
        #expect(run.rejected.count == 1)
        #expect(run.rejected[0]["reason"] == "corrupt-stream")
        #expect(run.rejected[0]["detail"]?.string?.contains("gzip stream is truncated") == true)
        #expect(run.ledger.balances)
    }

    @Test func zstdInputAndItsTruncation() throws {
        let dir = temporaryFolder()
        let zst = dir + "/data.jsonl.zst"
        let file = try OutputFile(path: zst, compression: OutputCompression(.zstd))
        let record = try readBytes(Paths.fixture("openai/messages.jsonl")).split(separator: 0x0A)[0]
        var lines: [UInt8] = []
        for _ in 0..<3000 { lines += record + [0x0A] }
        try file.write(lines)
        try file.commit()
        #expect(Compression.sniff(Array(try readBytes(zst).prefix(8))) == .zstd)
        let run = try runIngest([zst], folder: dir)
        #expect(run.records.count == 3000 && run.rejected.isEmpty)

        let bytes = try readBytes(zst)
        let cut = dir + "/cut.zst"  // the name says nothing: the magic bytes do
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: cut))
        let broken = try runIngest([cut], folder: dir, outputName: "cut.jsonl")
        #expect(broken.records.count < 3000)
        #expect(broken.rejected.last?["reason"] == "corrupt-stream")
    }

    @Test func fiftyMegabyteLineIsARecordOrARejectByTheLimit() throws {
        let dir = temporaryFolder()
        let path = dir + "/huge.jsonl"
        let big = String(repeating: "x", count: 50 << 20)
        let record: JSON = ["messages": [["role": "user", "content": .string(big)], ["role": "assistant", "content": "ok"]]]
        var bytes = record.serializedBytes() + [0x0A]
        bytes += try readBytes(Paths.fixture("openai/messages.jsonl"))
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let kept = try runIngest([path], folder: dir)
        #expect(kept.records.count == 3 && kept.rejected.isEmpty)
        #expect(kept.records[0]["messages"]?.array?[0]["content"]?.string?.utf8.count == 50 << 20)

        let limited = try runIngest([path], limits: ReaderLimits(maxRecordBytes: 1 << 20), folder: dir, outputName: "limited.jsonl")
        #expect(limited.records.count == 2)
        #expect(limited.rejected.count == 1 && limited.rejected[0]["reason"] == "record-too-large" && limited.rejected[0]["line"] == 1)
    }

    @Test func exportRejectsRecordsThatAreNotCanonical() throws {
        let run = try runExport([Paths.fixture("openai/messages.jsonl")], to: .openai)
        #expect(run.records.isEmpty && run.rejected.count == 2)
        #expect(run.rejected[0]["reason"] == "not-canonical")
        #expect(run.rejected[0]["detail"]?.string?.contains("run `trajforge ingest` first") == true)
    }

    @Test func editedExportIsRejectedNotMisread() throws {
        let dir = temporaryFolder()
        let first = try runIngest([Paths.fixture("openai/messages.jsonl")], folder: dir)
        let exported = try runExport([first.output], to: .openai, folder: dir)
        // Drop the last message of the first record but keep its trajforge column.
        guard case .object(var record) = exported.records[0], case .array(var messages)? = record["messages"] else { return }
        messages.removeLast()
        record["messages"] = .array(messages)
        let edited = dir + "/edited.jsonl"
        try Data(JSON.object(record).serializedBytes() + [0x0A]).write(to: URL(fileURLWithPath: edited))
        let back = try runIngest([edited], folder: dir, outputName: "back.jsonl")
        #expect(back.records.isEmpty)
        #expect(back.rejected.first?["reason"] == "carry-mismatch")
    }
}
