import ByteJSON
import Foundation
import Testing
@testable import TrajForge

// Shards are written from the records as they arrive (kept in their input batches, streamed to
// the compressor while the shard is still open for JSONL with gzip or no compression): the files
// must be exactly what compressing each shard's bytes from one buffer gives.

@Suite struct ShardStreamTests {
    /// The old way: a shard's bytes in one buffer, to the compressor in 1 MiB pieces. zstd: the
    /// size pledged below the streaming threshold, a streamed frame with its size patched in above.
    static func wholeShard(_ bytes: [UInt8], codec: ShardCodec, level: Int?) throws -> [UInt8] {
        let sink = MemorySink()
        let streamed = codec == .zstd && bytes.count >= ZstdFrameSink.streamingThreshold
        let compressor = try compressorSink(codec, level: level, next: sink, path: "<memory>", size: streamed ? nil : bytes.count)
        var at = 0
        while at < bytes.count {
            let end = min(bytes.count, at + (1 << 20))
            try compressor.write(bytes[at..<end])
            at = end
        }
        try compressor.finish()
        return sink.bytes
    }

    /// Records of many sizes: short ones (sparse batches, copied), ordinary ones, and two of about
    /// 1.5 MiB (more than a compressor piece, more than the small shard limits).
    static func records() -> [String] {
        var lines = shardTestRecords(500)
        for k in 0..<3000 { lines.insert(#"{"k":\#(k),"ids":[\#(k),\#(k * 7 % 1000),-100]}"#, at: (k * 7) % lines.count) }
        let big = String(repeating: "token ", count: 260_000)
        lines.insert(#"{"id":"big-1","text":"\#(big)"}"#, at: 100)
        lines.insert(#"{"id":"big-2","text":"\#(big)x"}"#, at: 2500)
        return lines
    }

    static let cases: [(ShardCodec, Int?, Int)] = [
        (.none, nil, 1), (.gzip, 0, 700), (.gzip, 1, 65536), (.gzip, 6, 3 << 20), (.gzip, 6, 64 << 20),
        (.zstd, 1, 65536), (.zstd, 3, 1_000_000), (.zstd, 9, 3 << 20), (.none, nil, 2 << 20),
    ]

    /// Shards `lines` as JSONL at 1 and 3 threads; checks that every shard file is what whole-shard
    /// compression of its lines gives and that both runs wrote the same files. `check` sees each
    /// shard with its uncompressed bytes and its file's bytes.
    static func shardBothWays(_ lines: [String], codec: ShardCodec, level: Int?, limit: Int,
                              check: (ShardEntry, _ raw: [UInt8], _ file: [UInt8], _ path: String) throws -> Void) throws -> [ShardManifest]
    {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeLines(dir + "/in.jsonl", lines)
        var digests: [[String: String]] = []
        var manifests: [ShardManifest] = []
        for threads in [1, 3] {
            let out = dir + "/out\(threads)"
            let (manifest, _) = try runShard([dir + "/in.jsonl"], into: out) {
                $0.codec = codec
                $0.level = level
                $0.maxShardBytes = limit
                $0.threads = threads
            }
            #expect(manifest.totalRecords == lines.count)
            var first = 0
            for shard in manifest.shards {
                let raw = Array((lines[first..<(first + shard.records)].joined(separator: "\n") + "\n").utf8)
                first += shard.records
                #expect(raw.count == shard.uncompressedBytes)
                let actual = try readBytes(out + "/" + shard.file)
                let same = actual == (try wholeShard(raw, codec: codec, level: level))
                #expect(same, "\(shard.file) differs from whole-shard compression")
                try check(shard, raw, actual, out + "/" + shard.file)
            }
            manifests.append(manifest)
            digests.append(try folderDigest(out))
        }
        #expect(digests[0] == digests[1])
        return manifests
    }

    @Test(arguments: 0..<cases.count)
    func jsonlShardsAreWhatWholeShardCompressionGives(_ k: Int) throws {
        let (codec, level, limit) = ShardStreamTests.cases[k]
        let lines = ShardStreamTests.records()
        let manifests = try ShardStreamTests.shardBothWays(lines, codec: codec, level: level, limit: limit) { _, _, _, _ in }
        if limit == 1 { #expect(manifests.allSatisfy { $0.shards.count == lines.count }) }
    }

    /// About 13 MB: enough for shards above the zstd streaming threshold.
    static func largeRecords() -> [String] {
        var lines = shardTestRecords(300, seed: 9)
        var state: UInt64 = 5
        for k in 0..<120 {
            var words: [String] = []
            for _ in 0..<12_000 {
                state = mix64(state &+ 1)
                words.append(["order", "refund", "Zürich", "\\n", "quote \\\"", "\(state % 100_000)"][Int(state % 6)])
            }
            lines.insert(#"{"id":"large-\#(k)","text":"\#(words.joined(separator: " "))"}"#, at: (k * 13) % lines.count)
        }
        return lines
    }

    /// zstd shards of at least `ZstdFrameSink.streamingThreshold` bytes are compressed while they
    /// are read, and carry their size in an 8-byte header field filled in at the end; smaller ones
    /// (the last shard here) are pledged. Either way: the bytes whole-shard compression gives, for
    /// any thread count, readable with the size checked by libzstd.
    @Test(arguments: [(1, 64 << 20), (3, 5 << 20), (9, 6_000_000)])
    func largeZstdShardsStreamWithTheirSizeInTheHeader(_ level: Int, _ limit: Int) throws {
        let lines = ShardStreamTests.largeRecords()
        var streamed = 0
        var first = 0
        _ = try ShardStreamTests.shardBothWays(lines, codec: .zstd, level: level, limit: limit) { shard, raw, actual, path in
            if raw.count >= ZstdFrameSink.streamingThreshold {
                streamed += 1
                // Descriptor: 8-byte size field, window descriptor present; then the size.
                #expect(actual[4] == 0xC0)
                #expect((0..<8).reduce(0) { $0 | Int(actual[6 + $1]) << (8 * $1) } == raw.count)
            } else {
                #expect(actual[4] & 0x20 != 0, "a small shard's frame is single-segment, its size pledged")
            }
            let back = try readShardRecords(path)
            #expect(back.problems.isEmpty)
            // The shard's lines (`first` runs on through the second run: back to 0 after the last shard).
            let at = first % lines.count
            let readsBack = back.records == (try parsedLines(Array(lines[at..<(at + shard.records)])))
            first += shard.records
            #expect(readsBack, "\(shard.file) reads back differently")
            #expect(shard.sha256 == sha256Hex(actual))
        }
        #expect(streamed >= 2)  // at least one per run
    }

    /// A streamed frame whose size field disagrees with its content is an error for libzstd.
    @Test func aWrongSizeFieldIsCaught() throws {
        let raw = Array(String(repeating: "{\"a\":\"some text\"}\n", count: 300_000).utf8)
        let sink = MemorySink()
        let zstd = try ZstdFrameSink(next: sink, path: "<memory>", level: 3, size: nil)
        try zstd.write(raw[...])
        try zstd.finish()
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(sink.bytes).write(to: URL(fileURLWithPath: dir + "/ok.jsonl.zst"))
        let good = try readShardRecords(dir + "/ok.jsonl.zst")
        #expect(good.records.count == 300_000 && good.problems.isEmpty)
        var bad = sink.bytes
        bad[6] ^= 1
        try Data(bad).write(to: URL(fileURLWithPath: dir + "/bad.jsonl.zst"))
        let damaged = try readShardRecords(dir + "/bad.jsonl.zst")
        #expect(damaged.problems.map(\.reason) == [.corruptStream])
    }

    /// Patches land in the file whether its bytes were already written or still buffered, and the
    /// hash (taken at the end) covers them.
    @Test func patchedFileHashesItsFinalBytes() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f.bin"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        let sink = HashingFileSink(fd: fd, path: path, extraHashes: ["md5"], hashAtEnd: true)
        var expected: [UInt8] = []
        for k in 0..<40 {
            let piece = [UInt8](repeating: UInt8(k), count: k == 7 ? (1 << 20) + 5 : 70_001)
            try sink.write(piece[...])
            expected += piece
        }
        try sink.patch([1, 2, 3], at: 6)
        expected.replaceSubrange(6..<9, with: [1, 2, 3])
        let late = sink.count - 10
        try sink.patch([9, 9], at: late)
        expected.replaceSubrange(late..<(late + 2), with: [9, 9])
        try sink.finish()
        try sink.waitDone()
        close(fd)
        let same = try readBytes(path) == expected
        #expect(same)
        #expect(sink.sha256Hex == sha256Hex(expected))
        #expect(sink.extraHex["md5"] == MDSHash.hex("md5", of: expected))

        let fd2 = open(dir + "/g.bin", O_RDWR | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd2) }
        let plain = HashingFileSink(fd: fd2, path: dir + "/g.bin")
        try plain.write([1, 2, 3][...])
        #expect(throws: IOError.self) { try plain.patch([0], at: 0) }
        try plain.finish()
        try plain.waitDone()
        #expect(plain.sha256Hex == sha256Hex([1, 2, 3]))
    }

    @Test func piecesAreCutAsFromOneBuffer() throws {
        final class Recorder: ByteSink {
            var calls: [Int] = []
            var bytes: [UInt8] = []
            func write(_ b: UnsafeRawBufferPointer) throws(IOError) {
                calls.append(b.count)
                bytes.append(contentsOf: b)
            }
            func finish() throws(IOError) {}
        }
        var state: UInt64 = 3
        for total in [0, 1, 1 << 20, (1 << 20) + 1, 5 << 20] {
            let sink = Recorder()
            let writer = ChunkedWriter(sink)
            var expected: [UInt8] = []
            while expected.count < total {
                state = mix64(state &+ 1)
                let n = min(total - expected.count, Int(state % 3 == 0 ? state % (3 << 20) : state % 5000))
                let piece = (0..<n).map { UInt8(truncatingIfNeeded: $0 &+ expected.count) }
                try piece.withUnsafeBytes { try writer.append($0) }
                expected += piece
                if expected.count < total {
                    try writer.append(newline: ())
                    expected.append(0x0A)
                }
            }
            try writer.flush()
            #expect(sink.bytes == expected)
            let full = expected.count >> 20
            #expect(sink.calls == Array(repeating: 1 << 20, count: full) + (expected.count % (1 << 20) > 0 ? [expected.count % (1 << 20)] : []))
        }
    }

    @Test func anAbortedFeedStopsItsWorker() throws {
        let feed = ShardFeed(index: 0, firstPosition: 0, layout: nil)
        feed.publish([Array("abc".utf8)], [1], [0..<3], size: 4)
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var seen = 0; var failed = false }
        let box = Box()
        Thread {
            do {
                try feed.consume { _, ranges in box.seen += ranges.count }
            } catch {
                box.failed = true
            }
            done.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.05)
        feed.abort()
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(box.seen == 1 && box.failed)
    }

    @Test func scannerAgreesWithTheParserOnIntegerArrays() {
        var state: UInt64 = 11
        func next(_ bound: Int) -> Int {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            return Int(mix64(state) % UInt64(max(1, bound)))
        }
        let pieces = ["0", "7", "-1", "-100", "151000", "12345678", "123456789012", "00", "01", "-0", "-01", "-", "--1", "1-2",
                      "", " 5", "5 ", "1.5", "2e3", "\n3", "[]", "[1,2]", "\"s\"", "true", "0.0", "-0.5"]
        var valid = 0
        var cases = 0
        for _ in 0..<6000 {
            var items: [String] = []
            for _ in 0..<(next(40)) {
                // Mostly plain integers, sometimes something else.
                items.append(next(8) == 0 ? pieces[next(pieces.count)] : String(next(3) == 0 ? -next(200) : next(160_000)))
            }
            var text = "{\"pad\":\"" + String(repeating: "x", count: next(9)) + "\",\"ids\":[" + items.joined(separator: ",") + "]}"
            if next(10) == 0 {
                var bytes = Array(text.utf8)
                let at = next(bytes.count)
                bytes[at] = Array(",-0]1 ".utf8)[next(6)]
                text = String(decoding: bytes, as: UTF8.self)
            }
            if next(20) == 0 { text = String(text.dropLast(1 + next(4))) }
            let bytes = Array(text.utf8)
            let scan = bytes.withUnsafeBytes { JSONScan.scan($0) }
            let parsed = try? JSON.parse(bytes)
            #expect(scan.valid == (parsed != nil), "\(text.prefix(200))")
            if parsed != nil { valid += 1 }
            cases += 1
        }
        #expect(valid > 1000 && cases - valid > 1000)
    }
}
