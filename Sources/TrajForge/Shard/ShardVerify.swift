import ByteJSON
import Crypto

#if canImport(Glibc)
import Glibc
#endif

// `trajforge verify DIR`: every shard the manifest lists is re-hashed, decompressed, decoded and
// counted in one pass, and each difference is reported by name: a missing file, a size that
// differs (truncated), a SHA-256 that differs (a changed byte), a damaged stream, a record that
// does not parse, a record or byte count that differs, an MDS index that disagrees.

/// One thing wrong with a shard set.
public struct VerifyProblem: Sendable, Equatable, CustomStringConvertible {
    /// missing-file, size-mismatch, sha256-mismatch, corrupt-stream, invalid-record, count-mismatch,
    /// bytes-mismatch, index-mismatch, manifest.
    public var code: String
    public var file: String
    public var detail: String

    public var description: String { "\(code): \(file): \(detail)" }

    public var json: JSON { .object(["code": .string(code), "file": .string(file), "detail": .string(detail)]) }
}

public struct VerifyReport: Sendable {
    public var folder: String
    public var shards = 0
    public var shardsOK = 0
    public var problems: [VerifyProblem] = []
    /// Not errors, but worth knowing (an unfinished run's leftovers, files the manifest does not list).
    public var warnings: [String] = []
    public var ledger = Ledger(stage: "verify")

    public var ok: Bool { problems.isEmpty }

    public var json: JSON {
        .object(["folder": .string(folder), "ok": .bool(ok), "shards": .number(JSONNumber(shards)), "shards_ok": .number(JSONNumber(shardsOK)),
                 "problems": .array(problems.map(\.json)), "warnings": .array(warnings.map(JSON.string)), "ledger": ledger.json])
    }
}

public enum ShardVerifier {
    /// Most invalid records named per shard (the rest are counted).
    static let namedRecordProblems = 5

    public static func verify(folder: String, threads: Int = 1, limits: ReaderLimits = .init()) -> VerifyReport {
        ensureUTF8Locale()
        var report = VerifyReport(folder: folder)
        let manifestPath = joinPath(folder, ShardManifest.fileName)
        let manifest: ShardManifest
        do {
            guard let bytes = try readWholeFile(manifestPath) else {
                report.problems.append(VerifyProblem(code: "manifest", file: ShardManifest.fileName,
                                                     detail: isDirectory(folder) ? "missing: \(folder) holds no manifest.json (was the run finished?)" : "\(folder) is not a folder"))
                return report
            }
            manifest = try ShardManifest.parse(bytes)
        } catch {
            report.problems.append(VerifyProblem(code: "manifest", file: ShardManifest.fileName, detail: "\(error)"))
            return report
        }
        report.shards = manifest.shards.count
        let layoutHashes = (manifest.options["mds_hashes"]?.array ?? []).compactMap(\.string)
        let order = manifest.columns?.map(\.name)
        let checks = parallelMap(count: manifest.shards.count, threads: threads) { k in
            checkShard(manifest.shards[k], folder: folder, format: manifest.format, order: order,
                       rawHashAlgorithms: manifest.format == .mds ? layoutHashes : [], limits: limits)
        }
        var mdsRaw: [ShardCheck] = []
        for check in checks {
            report.problems += check.problems
            if check.problems.isEmpty { report.shardsOK += 1 }
            report.ledger.merge(check.ledger)
            mdsRaw.append(check)
        }
        if manifest.format == .mds {
            report.problems += checkIndex(manifest, folder: folder, checks: mdsRaw)
        }
        let totals = (manifest.totalRecords, report.ledger.input)
        if totals.0 != totals.1 && report.problems.isEmpty {
            report.problems.append(VerifyProblem(code: "count-mismatch", file: ShardManifest.fileName,
                                                 detail: "the shards hold \(totals.1) records; the manifest's total is \(totals.0)"))
        }
        if isDirectory(joinPath(folder, ShardWriter.partialFolderName)) {
            report.warnings.append("\(ShardWriter.partialFolderName) holds an unfinished run's files (a later `shard --resume` or `--overwrite` clears it)")
        }
        report.ledger.output = report.ledger.kept
        report.ledger.count("shards checked", manifest.shards.count)
        report.ledger.count("shards ok", report.shardsOK)
        report.ledger.count("problems", report.problems.count)
        return report
    }

    struct ShardCheck: Sendable {
        var problems: [VerifyProblem] = []
        var ledger = Ledger(stage: "verify")
        var rawHashes: [String: String] = [:]
        var zipHashes: [String: String] = [:]
        var rawBytes = 0
    }

    static func checkShard(_ entry: ShardEntry, folder: String, format: ShardFormat, order: [String]?, rawHashAlgorithms: [String],
                           limits: ReaderLimits) -> ShardCheck
    {
        var check = ShardCheck()
        let path = joinPath(folder, entry.file)
        func problem(_ code: String, _ detail: String) { check.problems.append(VerifyProblem(code: code, file: entry.file, detail: detail)) }
        guard let size = fileSize(path) else {
            problem("missing-file", "missing (the manifest lists it with \(entry.records) records, \(entry.compressedBytes) bytes)")
            return check
        }
        if size != entry.compressedBytes {
            problem("size-mismatch", "is \(size) bytes; the manifest says \(entry.compressedBytes)" + (size < entry.compressedBytes ? " (the file is truncated)" : " (the file grew)"))
        }
        do {
            let file = HashingSource(try FileSource(path: path))
            let kind = ShardFileKind.of(entry.file)
            let head = try file.readUpTo(8)
            let replay = PrefixedSource(prefix: head, rest: file)
            let compression = Compression.sniff(head)
            let decompressed: ByteSource
            switch compression {
            case .none: decompressed = replay
            case .gzip: decompressed = try GzipSource(replay, path: path)
            default: decompressed = try ArchiveFilterSource(replay, path: path, compression: compression)
            }
            let counted = CountingSource(decompressed)
            let rawHasher = rawHashAlgorithms.isEmpty ? nil : RawHashSource(counted, algorithms: rawHashAlgorithms)
            let source: ByteSource = rawHasher ?? counted
            let reader: RecordReader
            switch kind {
            case .jsonl:
                let r = JSONLReader(source: source, file: path, limits: limits)
                r.keepsBlankLines = true
                reader = r
            case .tar: reader = TarShardReader(source: source, file: path, limits: limits)
            case .mds: reader = MDSShardReader(source: source, file: path, order: order, limits: limits)
            }
            var records = 0
            var invalid = 0
            var streamDamaged = false
            while let batch = try reader.nextBatch() {
                for item in batch.items {
                    switch item {
                    case .record(let raw):
                        records += 1
                        check.ledger.input += 1
                        switch parseRecord(batch, raw) {
                        case .success(.object):
                            check.ledger.kept += 1
                        case .success(let other):
                            invalid += 1
                            check.ledger.reject(.wrongType)
                            if invalid <= namedRecordProblems { problem("invalid-record", "record \(raw.location.line) is a JSON \(other.typeName), not an object") }
                        case .failure(let e):
                            invalid += 1
                            check.ledger.reject(.invalidJSON)
                            if invalid <= namedRecordProblems {
                                problem("invalid-record", "record \(raw.location.line) does not parse: \(e.kind.rawValue) at byte \(e.offset - raw.location.offset) of the record")
                            }
                        }
                    case .problem(let reject):
                        check.ledger.input += 1
                        check.ledger.reject(reject.reason)
                        // The stream or the container (tar, MDS header) is damaged: corrupt-stream;
                        // one sample or record is bad: invalid-record.
                        if reject.reason == .corruptStream || (reject.reason == .malformedJSON && reject.line == nil) {
                            streamDamaged = true
                            problem("corrupt-stream", reject.detail)
                        } else {
                            invalid += 1
                            if invalid <= namedRecordProblems { problem("invalid-record", (reject.line.map { "record \($0): " } ?? "") + reject.detail) }
                        }
                    case .context:
                        break
                    }
                }
            }
            if invalid > namedRecordProblems { problem("invalid-record", "\(invalid - namedRecordProblems) more records are invalid") }
            if !streamDamaged, let damage = try counted.drain() {
                streamDamaged = true
                problem("corrupt-stream", damage.message)
            }
            try file.drain()
            check.rawBytes = counted.count
            check.rawHashes = rawHasher?.hex ?? [:]
            if file.count == entry.compressedBytes, file.sha256Hex != entry.sha256 {
                problem("sha256-mismatch", "SHA-256 is \(file.sha256Hex); the manifest says \(entry.sha256) (the bytes changed after the set was written, e.g. a flipped byte)")
            } else if file.count != entry.compressedBytes, file.sha256Hex != entry.sha256 {
                problem("sha256-mismatch", "SHA-256 is \(file.sha256Hex); the manifest says \(entry.sha256)")
            }
            if !rawHashAlgorithms.isEmpty {
                var zip = [String: String]()
                if let bytes = try readWholeFile(path) { for a in rawHashAlgorithms { zip[a] = MDSHash.hex(a, of: bytes) } }
                check.zipHashes = zip
            }
            if records != entry.records {
                problem("count-mismatch", "holds \(records) records" + (streamDamaged ? " before the damage" : "") + "; the manifest says \(entry.records)")
            }
            if !streamDamaged, counted.count != entry.uncompressedBytes {
                problem("bytes-mismatch", "decompresses to \(counted.count) bytes; the manifest says \(entry.uncompressedBytes)")
            }
        } catch {
            problem("corrupt-stream", "\(error)")
        }
        return check
    }

    /// MDS: index.json must list the same shards as the manifest, with the sizes and hashes found.
    static func checkIndex(_ manifest: ShardManifest, folder: String, checks: [ShardCheck]) -> [VerifyProblem] {
        var problems: [VerifyProblem] = []
        func problem(_ detail: String) { problems.append(VerifyProblem(code: "index-mismatch", file: "index.json", detail: detail)) }
        let bytes: [UInt8]
        do {
            guard let b = try readWholeFile(joinPath(folder, "index.json")) else {
                problem("missing (MDS readers need it)")
                return problems
            }
            bytes = b
        } catch {
            problem("\(error)")
            return problems
        }
        guard let index = try? JSON.parse(bytes), case .array(let shards)? = index["shards"], index["version"]?.int == 2 else {
            problem("not an MDS v2 index ({\"shards\": [...], \"version\": 2})")
            return problems
        }
        guard shards.count == manifest.shards.count else {
            problem("lists \(shards.count) shards; the manifest lists \(manifest.shards.count)")
            return problems
        }
        for (k, s) in shards.enumerated() {
            let entry = manifest.shards[k]
            let zipName = s["zip_data"]?["basename"]?.string
            let rawName = s["raw_data"]?["basename"]?.string
            if (zipName ?? rawName) != entry.file { problem("shards[\(k)] names \(zipName ?? rawName ?? "no file"); the manifest says \(entry.file)") }
            if s["samples"]?.int != entry.records { problem("shards[\(k)] has \(s["samples"]?.description ?? "no") samples; the manifest says \(entry.records)") }
            if s["raw_data"]?["bytes"]?.int != entry.uncompressedBytes {
                problem("shards[\(k)].raw_data.bytes is \(s["raw_data"]?["bytes"]?.description ?? "missing"); the manifest says \(entry.uncompressedBytes)")
            }
            if let zip = s["zip_data"], !zip.isNull, zip["bytes"]?.int != entry.compressedBytes {
                problem("shards[\(k)].zip_data.bytes is \(zip["bytes"]?.description ?? "missing"); the manifest says \(entry.compressedBytes)")
            }
            let check = checks[k]
            guard check.problems.isEmpty else { continue }
            for (algo, value) in check.rawHashes where s["raw_data"]?["hashes"]?[algo]?.string != value {
                problem("shards[\(k)].raw_data.hashes.\(algo) differs from the shard's contents (\(value))")
            }
            if let zip = s["zip_data"], !zip.isNull {
                for (algo, value) in check.zipHashes where zip["hashes"]?[algo]?.string != value {
                    problem("shards[\(k)].zip_data.hashes.\(algo) differs from the file (\(value))")
                }
            }
        }
        return problems
    }
}

/// Hashes the (uncompressed) bytes read through it with the MDS index's algorithms.
final class RawHashSource: ByteSource {
    let inner: ByteSource
    var hashes: [(String, MDSHash.Running)]
    init(_ inner: ByteSource, algorithms: [String]) {
        self.inner = inner
        hashes = algorithms.map { ($0, MDSHash.Running($0)) }
    }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        let n = try inner.read(into: buffer)
        if n > 0 { for k in hashes.indices { hashes[k].1.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) } }
        return n
    }
    var hex: [String: String] { Dictionary(uniqueKeysWithValues: hashes.map { ($0.0, $0.1.hex()) }) }
}
