import ByteJSON
import Foundation
import Testing
@testable import TrajForge

// Shards are written from the records as they arrive (kept in their input batches, streamed to
// the compressor while the shard is still open for JSONL with gzip or no compression): the files
// must be exactly what compressing each shard's bytes from one buffer gives.

@Suite struct ShardStreamTests {
    /// The old way: a shard's bytes in one buffer, to the compressor in 1 MiB pieces.
    static func wholeShard(_ bytes: [UInt8], codec: ShardCodec, level: Int?) throws -> [UInt8] {
        let sink = MemorySink()
        let compressor = try compressorSink(codec, level: level, next: sink, path: "<memory>", size: bytes.count)
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

    @Test(arguments: 0..<cases.count)
    func jsonlShardsAreWhatWholeShardCompressionGives(_ k: Int) throws {
        let (codec, level, limit) = ShardStreamTests.cases[k]
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = ShardStreamTests.records()
        try writeLines(dir + "/in.jsonl", lines)
        var digests: [[String: String]] = []
        for threads in [1, 3] {
            let out = dir + "/out\(threads)"
            let (manifest, _) = try runShard([dir + "/in.jsonl"], into: out) {
                $0.codec = codec
                $0.level = level
                $0.maxShardBytes = limit
                $0.threads = threads
            }
            #expect(manifest.totalRecords == lines.count)
            if limit == 1 { #expect(manifest.shards.count == lines.count) }
            var first = 0
            for shard in manifest.shards {
                let raw = Array((lines[first..<(first + shard.records)].joined(separator: "\n") + "\n").utf8)
                first += shard.records
                #expect(raw.count == shard.uncompressedBytes)
                let expected = try ShardStreamTests.wholeShard(raw, codec: codec, level: level)
                let actual = try readBytes(out + "/" + shard.file)
                #expect(actual == expected, "\(shard.file): \(actual.count) bytes, whole-shard compression gives \(expected.count)")
            }
            digests.append(try folderDigest(out))
        }
        #expect(digests[0] == digests[1])
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
        feed.publish([Array("abc".utf8)], [1], [0..<3])
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
