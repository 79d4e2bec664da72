import ByteJSON
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// `trajforge shard`: records in, a checksummed shard set out.
//
//   read inputs (hashing their bytes) ─▶ parse + encode on all workers ─▶ [shuffle spill] ─▶
//   assemble shards in order ─▶ compress on the workers (while the shard is read, except MDS) ─▶
//   write + hash + fsync on each worker's file thread ─▶ rename into place, index.json (MDS),
//   manifest.json last
//
// Until the manifest is written, every shard lives in `<out>/.trajforge-partial/` under a
// provisional name, listed in a journal (one fsynced line per finished shard). An interrupted run
// therefore leaves nothing that looks like a finished set; `--resume` re-reads the inputs, and
// for each shard whose journal (or manifest) entry still verifies — same options, same input
// hashes, file present with the recorded size and SHA-256 — keeps the file instead of
// compressing again. The result is byte-identical to an uninterrupted run.

public final class ShardWriter {
    public static let partialFolderName = ".trajforge-partial"

    public let options: ShardOptions
    public let folder: String
    public private(set) var ledger = Ledger(stage: "shard")
    public private(set) var reusedShards = 0
    /// Tests: fail like a killed process once the first this many shards are written.
    var crashAfterShards: Int?

    public init(options: ShardOptions, folder: String) {
        self.options = options
        self.folder = folder
    }

    var partialFolder: String { joinPath(folder, ShardWriter.partialFolderName) }
    var manifestPath: String { joinPath(folder, ShardManifest.fileName) }
    var indexPath: String { joinPath(folder, "index.json") }

    /// Writes the shard set for `inputs` ("-" is standard input); rejected records go to `rejects`.
    /// Throws `ShardOptionError` for unusable options or folder states, `IOError` for I/O failures
    /// (the partial folder then stays for `--resume`).
    public func run(inputs: [String], rejects: OutputFile?) throws -> ShardManifest {
        try options.validate()
        guard !inputs.isEmpty else { throw ShardOptionError("give at least one input file ('-' for standard input)") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ShardOptionError("standard input can be read only once") }
        if options.resume && inputs.contains("-") {
            throw ShardOptionError("--resume needs input files: standard input cannot be read again to check it is the same")
        }
        ensureUTF8Locale()
        try makeFolder(folder)

        let requested = options.manifestJSON(columns: options.columns)
        let identities = inputs.map(inputIdentity)
        var prior: PriorRun?
        if options.resume {
            prior = try loadPriorRun(requested: requested, identities: identities)
        } else {
            try clearOrRefuse()
        }
        if !isDirectory(partialFolder) { try makeFolder(partialFolder) }
        let journal = try ShardJournal(path: joinPath(partialFolder, "journal.jsonl"))
        if prior?.fromJournal != true {
            try journal.append(.object(["type": "run", "options": requested, "inputs": .array(identities)]))
        }

        let context = ShardJobContext(options: options, partialFolder: partialFolder, journal: journal,
                                      candidates: prior?.candidates ?? [:], crashAfter: crashAfterShards)
        let pool = ShardWorkerPool(threads: options.threads) { shard, files, deliver in try context.write(shard, files: files, deliver: deliver) }
        var shuffleFolder: String?
        defer { if let shuffleFolder { removeTree(shuffleFolder) } }
        let fingerprints: [InputFingerprint]
        let layout: MDSLayout?
        do {
            var spill: ShuffleSpill?
            if options.shuffle {
                let base = options.temporaryFolder ?? partialFolder
                let dir = joinPath(base, "shuffle-\(getpid())")
                try makeFolder(dir)
                shuffleFolder = dir
                let estimate = inputs.reduce(0) { $0 + (fileSize($1) ?? 1 << 30) }
                spill = try ShuffleSpill(folder: dir, estimate: estimate, budget: options.shuffleBucketBytes)
            }
            var producer = Producer(options: options, pool: pool, rejects: rejects, ledger: ledger)
            fingerprints = try producer.readInputs(inputs, spill: spill, expected: prior?.fingerprints)
            if prior?.fromJournal != true || prior?.fingerprints == nil {
                try journal.append(.object(["type": "inputs", "inputs": .array(fingerprints.map(\.json))]))
            }
            if let spill {
                try spill.replay { payload, origin in try producer.assemble(payload, origin: origin, inputs: inputs) }
            }
            try producer.finish()
            ledger = producer.ledger
            layout = producer.layout
        } catch {
            pool.cancel()
            throw error
        }
        let results = try pool.finish()

        // Rename into place, then the index (MDS), then the manifest; the partial folder goes last.
        let count = results.count
        try journal.append(.object(["type": "final", "shards": .number(JSONNumber(count))]))
        var entries: [ShardEntry] = []
        var indexShards: [JSON] = []
        for r in results {
            let name = ShardNaming.fileName(format: options.format, codec: options.effectiveCodec, prefix: options.prefix, index: r.index, count: count)
            let target = joinPath(folder, name)
            if r.path != target, rename(r.path, target) != 0 { throw IOError.errno(target, "cannot rename \(r.path) into place") }
            entries.append(ShardEntry(file: name, records: r.records, uncompressedBytes: r.uncompressedBytes,
                                      compressedBytes: r.compressedBytes, sha256: r.sha256))
            if r.reused { reusedShards += 1 }
            if options.format == .mds, let layout {
                let raw = MDSLayout.shardBasename(r.index)
                indexShards.append(layout.indexEntry(samples: r.records, raw: (raw, r.uncompressedBytes, r.rawHashes),
                                                     zip: options.effectiveCodec == .none ? nil : (name, r.compressedBytes, r.zipHashes)))
            }
        }
        journal.close()
        if options.format == .mds {
            let index: JSON = .object(["shards": .array(indexShards), "version": 2])
            try writeFileAtomically(indexPath, index.serializedBytes(pythonSortedWriter))
        }
        // Reuse is not in the ledger: a resumed run's manifest is byte-identical to an uninterrupted one.
        ledger.count("shards", count)
        let manifest = ShardManifest(format: options.format, codec: options.effectiveCodec, level: options.effectiveLevel, split: options.split,
                                     shards: entries, options: options.manifestJSON(columns: layout?.declared), inputs: fingerprints,
                                     trajforgeVersion: TrajForgeVersion.string, ledger: ledger.json,
                                     urls: ShardNaming.braceURLs(format: options.format, codec: options.effectiveCodec, prefix: options.prefix, count: count),
                                     columns: layout?.declared)
        try writeFileAtomically(manifestPath, manifest.bytes)
        syncFolder(folder)
        removeTree(partialFolder)
        return manifest
    }

    private func makeFolder(_ path: String) throws(IOError) {
        if isDirectory(path) { return }
        if fileExists(path) { throw IOError(path: path, "exists and is not a folder") }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw IOError(path: path, "cannot create folder: \(error.localizedDescription)")
        }
    }

    /// Without --resume: an earlier set (or unfinished run) in the folder is an error, unless
    /// --overwrite, which removes it (only the files its manifest or index names).
    private func clearOrRefuse() throws {
        let hasManifest = fileExists(manifestPath)
        let hasPartial = isDirectory(partialFolder)
        let hasIndex = fileExists(indexPath)
        guard hasManifest || hasPartial || hasIndex else { return }
        guard options.overwrite else {
            if hasPartial {
                throw ShardOptionError("\(folder) holds an unfinished shard run (\(ShardWriter.partialFolderName)): continue it with --resume, or start over with --overwrite")
            }
            throw ShardOptionError("\(folder) already holds a shard set (\(hasManifest ? ShardManifest.fileName : "index.json")): check and complete it with --resume, or replace it with --overwrite")
        }
        if hasManifest, let bytes = try readWholeFile(manifestPath), let old = try? ShardManifest.parse(bytes) {
            for s in old.shards { unlink(joinPath(folder, s.file)) }
        }
        if hasIndex, let bytes = try readWholeFile(indexPath), case .array(let shards)? = (try? JSON.parse(bytes))?["shards"] {
            for s in shards {
                for key in ["raw_data", "zip_data"] {
                    if let name = s[key]?["basename"]?.string, !name.contains("/") { unlink(joinPath(folder, name)) }
                }
            }
        }
        unlink(manifestPath)
        unlink(indexPath)
        removeTree(partialFolder)
    }

    struct PriorRun {
        /// The earlier run's input hashes, when it got as far as reading them all: the inputs must
        /// hash the same now (checked as they are read), or the run stops before the manifest.
        var fingerprints: [InputFingerprint]?
        var candidates: [Int: ShardCandidate]
        var fromJournal: Bool
    }

    /// An input's identity for --resume before it is read: path, size, modification time.
    func inputIdentity(_ path: String) -> JSON {
        var st = stat()
        guard path != "-", stat(path, &st) == 0 else { return .object(["path": .string(path)]) }
        let mtime = Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
        return .object(["path": .string(path), "bytes": .number(JSONNumber(Int(st.st_size))), "mtime_ns": .number(JSONNumber(mtime))])
    }

    /// --resume: what an earlier run left that may be kept. A run with other options or inputs is
    /// an error (resuming it would mix two different sets).
    private func loadPriorRun(requested: JSON, identities: [JSON]) throws -> PriorRun {
        var candidates: [Int: ShardCandidate] = [:]
        var fromJournal = false
        var fingerprints: [InputFingerprint]?
        let journalPath = joinPath(partialFolder, "journal.jsonl")
        if let bytes = try readWholeFile(journalPath) {
            let lines = bytes.split(separator: 0x0A).compactMap { try? JSON.parse(Array($0)) }
            guard let header = lines.first, header["type"]?.string == "run" else {
                throw ShardOptionError("\(journalPath) is damaged; start over with --overwrite")
            }
            guard header["options"] == requested else {
                throw ShardOptionError("the unfinished run in \(folder) used other options; rerun it with the same ones, or start over with --overwrite")
            }
            guard header["inputs"]?.array == identities else {
                throw ShardOptionError("the unfinished run in \(folder) read other inputs (or they changed since: size or modification time differ); start over with --overwrite")
            }
            fromJournal = true
            var total: Int?
            for line in lines.dropFirst() {
                switch line["type"]?.string {
                case "final": total = line["shards"]?.int
                case "inputs": fingerprints = (line["inputs"]?.array ?? []).compactMap(InputFingerprint.init(json:))
                case "shard": if let c = ShardCandidate(journal: line, folder: partialFolder) { candidates[c.index] = c }
                default: break
                }
            }
            // A run stopped while renaming: some shards already carry their final names.
            if let total {
                for (k, c) in candidates {
                    let name = ShardNaming.fileName(format: options.format, codec: options.effectiveCodec, prefix: options.prefix, index: k, count: total)
                    candidates[k]?.paths = c.paths + [joinPath(folder, name)]
                }
            }
        }
        if let bytes = try readWholeFile(manifestPath) {
            let old: ShardManifest
            do { old = try ShardManifest.parse(bytes) } catch {
                throw ShardOptionError("\(manifestPath): \(error); start over with --overwrite")
            }
            let oldRequested = options.manifestJSON(columns: options.columns ?? old.columns)
            guard old.options == oldRequested else {
                throw ShardOptionError("the shard set in \(folder) was made with other options; replace it with --overwrite")
            }
            guard old.inputs.count == identities.count, zip(old.inputs, identities).allSatisfy({ $0.bytes == $1["bytes"]?.int }) else {
                throw ShardOptionError("the shard set in \(folder) was made from other inputs; replace it with --overwrite")
            }
            if fingerprints == nil { fingerprints = old.inputs }
            var index: [JSON] = []
            if options.format == .mds, let ib = try readWholeFile(indexPath), case .array(let list)? = (try? JSON.parse(ib))?["shards"] { index = list }
            for (k, s) in old.shards.enumerated() where candidates[k] == nil {
                var c = ShardCandidate(index: k, paths: [joinPath(folder, s.file)], records: s.records, uncompressedBytes: s.uncompressedBytes,
                                       compressedBytes: s.compressedBytes, sha256: s.sha256, rawHashes: [:], zipHashes: [:])
                if options.format == .mds {
                    guard k < index.count, let raw = index[k]["raw_data"]?["hashes"]?.object else { continue }
                    c.rawHashes = Dictionary(uniqueKeysWithValues: raw.members.compactMap { m in m.value.string.map { (m.key, $0) } })
                    if let zip = index[k]["zip_data"]?["hashes"]?.object {
                        c.zipHashes = Dictionary(uniqueKeysWithValues: zip.members.compactMap { m in m.value.string.map { (m.key, $0) } })
                    }
                }
                candidates[k] = c
            }
        }
        return PriorRun(fingerprints: fingerprints, candidates: candidates, fromJournal: fromJournal)
    }
}

/// A shard file an earlier run wrote, with what it must still match to be kept.
struct ShardCandidate: Sendable {
    var index: Int
    var paths: [String]
    var records: Int
    var uncompressedBytes: Int
    var compressedBytes: Int
    var sha256: String
    var rawHashes: [String: String]
    var zipHashes: [String: String]

    init(index: Int, paths: [String], records: Int, uncompressedBytes: Int, compressedBytes: Int, sha256: String,
         rawHashes: [String: String], zipHashes: [String: String])
    {
        self.index = index
        self.paths = paths
        self.records = records
        self.uncompressedBytes = uncompressedBytes
        self.compressedBytes = compressedBytes
        self.sha256 = sha256
        self.rawHashes = rawHashes
        self.zipHashes = zipHashes
    }

    init?(journal j: JSON, folder: String) {
        guard let index = j["index"]?.int, let part = j["part"]?.string, !part.contains("/"), let records = j["records"]?.int,
              let u = j["uncompressed_bytes"]?.int, let c = j["compressed_bytes"]?.int, let sha = j["sha256"]?.string
        else { return nil }
        func dict(_ v: JSON?) -> [String: String] {
            Dictionary(uniqueKeysWithValues: (v?.object?.members ?? []).compactMap { m in m.value.string.map { (m.key, $0) } })
        }
        self.init(index: index, paths: [joinPath(folder, part)], records: records, uncompressedBytes: u, compressedBytes: c, sha256: sha,
                  rawHashes: dict(j["raw_hashes"]), zipHashes: dict(j["zip_hashes"]))
    }
}

/// Appends fsynced JSON lines (the partial run's journal).
final class ShardJournal: @unchecked Sendable {
    let path: String
    var fd: Int32
    let lock = NSLock()

    init(path: String) throws(IOError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError.errno(path, "cannot open the journal") }
    }

    deinit { close() }

    func append(_ value: JSON) throws(IOError) {
        var line = value.serializedBytes(.compact)
        line.append(0x0A)
        lock.lock()
        defer { lock.unlock() }
        let result: Result<Void, IOError> = line.withUnsafeBytes { b in
            do throws(IOError) { return .success(try writeAll(fd, b, path: path)) } catch { return .failure(error) }
        }
        try result.get()
        if fsync(fd) != 0 { throw IOError.errno(path, "fsync failed") }
    }

    func close() {
        lock.lock()
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
        lock.unlock()
    }
}

/// A simulated crash (tests): the run stops without cleaning up, as a killed process would.
struct SimulatedCrash: Error, CustomStringConvertible {
    var description: String { "simulated crash" }
}

/// What the workers share: options, where files go, the journal, resumable candidates.
final class ShardJobContext: @unchecked Sendable {
    let options: ShardOptions
    let partialFolder: String
    let journal: ShardJournal
    let candidates: [Int: ShardCandidate]
    let crashAfter: Int?
    let lock = NSLock()
    var written = 0

    init(options: ShardOptions, partialFolder: String, journal: ShardJournal, candidates: [Int: ShardCandidate], crashAfter: Int?) {
        self.options = options
        self.partialFolder = partialFolder
        self.journal = journal
        self.candidates = candidates
        self.crashAfter = crashAfter
    }

    /// Whether a shard's bytes can be written while the shard is still being assembled: JSONL and
    /// WebDataset (an MDS shard starts with every record's offset). A zstd frame streams once its
    /// shard reaches `ZstdFrameSink.streamingThreshold` bytes; a smaller shard is compressed when
    /// closed, with its size pledged. The worker feeds the compressor the same 1 MiB pieces either
    /// way, so the bytes never depend on timing or threads.
    static func streams(_ options: ShardOptions) -> Bool {
        options.format != .mds
    }

    /// Writes one shard to its provisional file (or keeps the earlier run's file when it verifies).
    /// Returns once the shard is compressed; the file thread `files` finishes writing, hashing and
    /// fsyncing it, and then hands the result (or the failure) to `deliver`, exactly once.
    func write(_ shard: ShardFeed, files: SerialThread, deliver: @escaping @Sendable (Result<ShardResult, Error>) -> Void) throws {
        if let c = candidates[shard.index] {
            let (records, size) = try shard.waitClosed()
            if c.records == records, c.uncompressedBytes == size {
                for path in c.paths {
                    if let (sha, size) = try hashFile(path), sha == c.sha256, size == c.compressedBytes {
                        return deliver(.success(ShardResult(index: shard.index, path: path, records: c.records, uncompressedBytes: c.uncompressedBytes,
                                                            compressedBytes: c.compressedBytes, sha256: c.sha256, rawHashes: c.rawHashes,
                                                            zipHashes: c.zipHashes, reused: true)))
                    }
                }
            }
        }
        let partName = "shard-\(String(shard.index, digits: 5)).part"
        let part = joinPath(partialFolder, partName)
        let temp = part + ".tmp"
        // Read and write: a streamed zstd frame's size field is filled in, and the file hashed, at the end.
        let fd = open(temp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError.errno(temp, "cannot create") }
        let mdsHashes = options.format == .mds ? options.mdsHashes : []
        let codec = options.effectiveCodec
        let raw: RawSink
        let records: Int
        let planned: Int
        var opened: HashingFileSink?
        do {
            // Which shards are compressed only once closed (their size known): see `streams`.
            let closedEarly: (records: Int, uncompressedBytes: Int)?
            if !ShardJobContext.streams(options) {
                closedEarly = try shard.waitClosed()
            } else if codec == .zstd {
                closedEarly = try shard.waitClosed(unlessReaching: ZstdFrameSink.streamingThreshold)
            } else {
                closedEarly = nil
            }
            let streamedFrame = codec == .zstd && closedEarly == nil
            // Uncompressed, the raw bytes are the file: hash them once (SHA-256 is always computed).
            let sink = HashingFileSink(fd: fd, path: temp, extraHashes: codec == .none ? mdsHashes.filter { $0 != "sha256" } : mdsHashes,
                                       hashAtEnd: streamedFrame, thread: files)
            opened = sink
            raw = RawSink(next: try compressorSink(codec, level: options.effectiveLevel, next: sink, path: temp, size: closedEarly?.uncompressedBytes),
                          hashes: codec == .none ? [] : mdsHashes)
            try encodeShard(shard, into: raw, path: temp)
            (records, planned) = try closedEarly ?? shard.waitClosed()
            try raw.finish()
            guard raw.count == planned else {
                throw IOError(path: temp, "internal error: shard \(shard.index) has \(raw.count) uncompressed bytes, \(planned) were planned")
            }
        } catch {
            opened?.abandon()
            Glibc.close(fd)
            unlink(temp)
            throw error
        }
        let file = opened!
        let rawCount = raw.count
        let rawHex = raw.hex
        file.whenDone { [self] (outcome: Result<Void, IOError>) in
            Glibc.close(fd)
            do {
                try outcome.get()
                deliver(.success(try finishShard(shard.index, file: file, temp: temp, part: part, partName: partName,
                                                 records: records, rawCount: rawCount, rawHex: rawHex)))
            } catch {
                unlink(temp)
                deliver(.failure(error))
            }
        }
    }

    /// A shard whose file is complete: into its provisional name, into the journal.
    private func finishShard(_ index: Int, file: HashingFileSink, temp: String, part: String, partName: String,
                             records: Int, rawCount: Int, rawHex: [String: String]) throws -> ShardResult
    {
        if rename(temp, part) != 0 { throw IOError.errno(part, "cannot rename \(temp)") }
        let codec = options.effectiveCodec
        let mdsHashes = options.format == .mds ? options.mdsHashes : []
        let sha = file.sha256Hex
        var rawHashes = rawHex
        if codec == .none {
            rawHashes = file.extraHex
            if mdsHashes.contains("sha256") { rawHashes["sha256"] = sha }
        }
        let zipHashes = codec == .none ? [:] : file.extraHex
        func dict(_ d: [String: String]) -> JSON { .object(JSONObject(d.sorted { $0.key < $1.key }.map { JSONMember($0.key, .string($0.value)) })) }
        let entry: JSON = .object(["type": "shard", "index": .number(JSONNumber(index)), "part": .string(partName),
                                   "records": .number(JSONNumber(records)), "uncompressed_bytes": .number(JSONNumber(rawCount)),
                                   "compressed_bytes": .number(JSONNumber(file.count)), "sha256": .string(sha),
                                   "raw_hashes": dict(rawHashes), "zip_hashes": dict(zipHashes)])
        if let crashAfter {
            // Tests: shards 0..<crashAfter are journaled, no other (their files finish on threads
            // of their own, in any order); the crash comes once they all are.
            lock.lock()
            defer { lock.unlock() }
            if index >= crashAfter { throw SimulatedCrash() }
            try journal.append(entry)
            written += 1
            if written >= crashAfter { throw SimulatedCrash() }
        } else {
            try journal.append(entry)
        }
        return ShardResult(index: index, path: part, records: records, uncompressedBytes: rawCount, compressedBytes: file.count,
                           sha256: sha, rawHashes: rawHashes, zipHashes: zipHashes, reused: false)
    }

    /// The uncompressed shard bytes, in the container format. JSONL lines and MDS samples reach
    /// `sink` in 1 MiB pieces, cut as if the shard's bytes lay in one buffer.
    private func encodeShard(_ shard: ShardFeed, into sink: ByteSink, path: String) throws(IOError) {
        switch options.format {
        case .jsonl:
            let out = ChunkedWriter(sink)
            try shard.consume { storage, ranges throws(IOError) in
                let result: Result<Void, IOError> = storage.withUnsafeBytes { b in
                    do throws(IOError) {
                        for r in ranges {
                            try out.append(UnsafeRawBufferPointer(rebasing: b[r]))
                            try out.append(newline: ())
                        }
                        return .success(())
                    } catch { return .failure(error) }
                }
                try result.get()
            }
            try out.flush()
        case .webdataset:
            let tar = try TarStreamWriter(next: sink, path: path)
            var k = 0
            try shard.consume { storage, ranges throws(IOError) in
                for range in ranges {
                    let sample = TarSample(storage, range)
                    let key = sample.key.isEmpty ? String(shard.firstPosition + k, digits: 9) : String(decoding: sample.key, as: UTF8.self)
                    for m in sample.members {
                        try tar.add(name: key + "." + String(decoding: m.ext, as: UTF8.self), data: storage[m.range])
                    }
                    k += 1
                }
            }
            try tar.close()
        case .mds:
            guard let layout = shard.layout else { throw IOError(path: path, "internal error: no MDS layout") }
            let lengths = shard.recordLengths()
            var head: [UInt8] = []
            appendUInt32(UInt32(lengths.count), to: &head)
            var offset = 4 + 4 * (lengths.count + 1) + layout.config.count
            appendUInt32(UInt32(truncatingIfNeeded: offset), to: &head)
            for n in lengths {
                offset += n
                appendUInt32(UInt32(truncatingIfNeeded: offset), to: &head)
            }
            head.append(contentsOf: layout.config)
            try sink.write(head)
            let out = ChunkedWriter(sink)
            try shard.consume { storage, ranges throws(IOError) in
                let result: Result<Void, IOError> = storage.withUnsafeBytes { b in
                    do throws(IOError) {
                        for r in ranges { try out.append(UnsafeRawBufferPointer(rebasing: b[r])) }
                        return .success(())
                    } catch { return .failure(error) }
                }
                try result.get()
            }
            try out.flush()
        }
    }
}

/// Passes bytes on in pieces of exactly `pieceBytes` (the last one shorter), however they arrive:
/// a compressor sees the same calls as when a shard's bytes were written from one buffer.
final class ChunkedWriter {
    static let pieceBytes = 1 << 20
    let sink: ByteSink
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ChunkedWriter.pieceBytes, alignment: 64)
    private var fill = 0

    init(_ sink: ByteSink) { self.sink = sink }
    deinit { buffer.deallocate() }

    func append(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        var rest = bytes
        while !rest.isEmpty {
            if fill == 0 && rest.count >= buffer.count {
                try sink.write(UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<(rest.startIndex + buffer.count)]))
                rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + buffer.count)...])
                continue
            }
            let n = min(buffer.count - fill, rest.count)
            (buffer.baseAddress! + fill).copyMemory(from: rest.baseAddress!, byteCount: n)
            fill += n
            rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + n)...])
            if fill == buffer.count {
                try sink.write(UnsafeRawBufferPointer(buffer))
                fill = 0
            }
        }
    }

    @inline(__always)
    func append(newline: Void) throws(IOError) {
        buffer[fill] = 0x0A
        fill += 1
        if fill == buffer.count {
            try sink.write(UnsafeRawBufferPointer(buffer))
            fill = 0
        }
    }

    func flush() throws(IOError) {
        if fill > 0 { try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<fill])) }
        fill = 0
    }
}

/// The reading side of a run: inputs → encoded records → shards, with the ledger and rejects.
struct Producer {
    let options: ShardOptions
    let pool: ShardWorkerPool
    let rejects: OutputFile?
    var ledger: Ledger
    var layout: MDSLayout?
    var assembler: ShardAssembler?
    var lastKey: [UInt8]?
    var pendingRejects: [Reject] = []
    let streams: Bool

    init(options: ShardOptions, pool: ShardWorkerPool, rejects: OutputFile?, ledger: Ledger) {
        self.options = options
        self.pool = pool
        self.rejects = rejects
        self.ledger = ledger
        streams = ShardJobContext.streams(options)
        if let columns = options.columns { layout = Producer.makeLayout(columns, options) }
    }

    static func makeLayout(_ columns: [MDSColumn], _ options: ShardOptions) -> MDSLayout {
        MDSLayout(columns: columns, compression: options.mdsCompression, hashes: options.mdsHashes, sizeLimit: options.maxShardBytes)
    }

    /// Reads every input; returns their fingerprints. Records go to `spill` (shuffle) or straight
    /// into shards.
    mutating func readInputs(_ inputs: [String], spill: ShuffleSpill?, expected: [InputFingerprint]?) throws -> [InputFingerprint] {
        var fingerprints: [InputFingerprint] = []
        for (k, path) in inputs.enumerated() {
            let hashing = HashingSource(try FileSource(path: path))
            let (reader, description) = try openRecordStream(raw: hashing, name: options.inputLabels?[k] ?? path, limits: options.limits)
            ledger.note(reader == nil ? "\(description) (no records)" : description)
            while let reader, let batch = try reader.nextBatch() {
                if options.format == .mds && layout == nil, let columns = inferColumns(batch) {
                    layout = Producer.makeLayout(columns, options)
                }
                let encoder = RecordEncoder(format: options.format, keyField: options.keyField, members: options.members, layout: layout)
                let results = parallelMap(count: batch.items.count, threads: options.threads) { i -> Result<EncodedRecord, Reject>? in
                    switch batch.items[i] {
                    case .record(let raw): return encoder.encode(batch, raw)
                    case .problem(let reject): return .failure(reject)
                    case .context: return nil
                    }
                }
                let sparse = batch.storage.count < batch.storage.capacity / 2
                for (i, result) in results.enumerated() {
                    guard let result else { continue }
                    ledger.input += 1
                    switch result {
                    case .failure(let reject):
                        ledger.reject(reject.reason)
                        pendingRejects.append(reject)
                    case .success(let record):
                        guard case .record(let raw) = batch.items[i] else { continue }
                        let origin = SpillOrigin(input: k, line: raw.location.line, index: raw.location.index, offset: raw.location.offset)
                        if let spill {
                            try spill.add(record.bytes(batch), origin: origin, seed: options.seed)
                        } else if let source = record.source {
                            // A line kept as it is stays in the batch, unless the batch holds much
                            // less than it reserved (many short lines): then it is copied.
                            try assemble(sparse ? .copy(batch.storage[source]) : .keep(batch.storage, source), size: record.size, origin: origin, inputs: inputs)
                        } else {
                            try assemble(.keep(record.payload, 0..<record.payload.count), size: record.size, origin: origin, inputs: inputs)
                        }
                    }
                }
                try flushRejects()
            }
            try hashing.drain()
            let fingerprint = InputFingerprint(path: options.inputLabels?[k] ?? path, bytes: hashing.count, sha256: hashing.sha256Hex)
            if let expected, k < expected.count, expected[k].sha256 != fingerprint.sha256 || expected[k].bytes != fingerprint.bytes {
                throw ShardOptionError("\(path) is not the input the earlier run read (its SHA-256 differs); replace the set with --overwrite")
            }
            fingerprints.append(fingerprint)
        }
        return fingerprints
    }

    /// Pass 2 of the shuffle: a payload from the spill.
    mutating func assemble(_ payload: ArraySlice<UInt8>, origin: SpillOrigin, inputs: [String]) throws {
        try assemble(.copy(payload), size: Producer.recordSize(payload, options.format), origin: origin, inputs: inputs)
    }

    /// The uncompressed bytes a payload adds to its shard (as `RecordEncoder` computed it).
    static func recordSize(_ payload: ArraySlice<UInt8>, _ format: ShardFormat) -> Int {
        switch format {
        case .jsonl: return payload.count + 1
        case .mds: return payload.count + 4
        case .webdataset:
            let sample = TarSample(Array(payload), 0..<payload.count)
            return sample.members.reduce(0) { $0 + TarStreamWriter.memberBytes($1.range.count) }
        }
    }

    mutating func assemble(_ record: ShardRecordBytes, size: Int, origin: SpillOrigin, inputs: [String]) throws {
        let payload = record.bytes
        if options.keyField != nil {
            // Two adjacent samples with one key would merge (or fail) in WebDataset's reader.
            let keyLength = Int(payload[payload.startIndex]) | Int(payload[payload.startIndex + 1]) << 8
            let key = Array(payload[(payload.startIndex + 2)..<(payload.startIndex + 2 + keyLength)])
            if key == lastKey {
                let sample = TarSample(Array(payload), 0..<payload.count)
                let json = sample.members.first { $0.ext == Array("json".utf8) }.map { Array(payload)[$0.range] } ?? []
                let location = RecordLocation(file: inputs[origin.input], line: origin.line, index: origin.index, offset: origin.offset)
                let reject = Reject(stage: "shard", at: location, reason: .wrongType,
                                    detail: "key \"\(String(decoding: key, as: UTF8.self))\" (--key-field \(options.keyField!)) repeats the previous sample's key; WebDataset would merge the two samples",
                                    excerptOf: json)
                ledger.reject(reject.reason)
                pendingRejects.append(reject)
                if pendingRejects.count >= 1024 { try flushRejects() }
                return
            }
            lastKey = key
        }
        if assembler == nil {
            assembler = ShardAssembler(format: options.format, maxBytes: options.maxShardBytes, maxRecords: options.maxShardRecords, layout: layout)
        }
        ledger.kept += 1
        ledger.output += 1
        let (closed, opened) = assembler!.add(record, size: size)
        // A streamed shard goes to a worker when it opens, any other when it closes.
        if let closed, !streams { try pool.submit(closed) }
        if let opened, streams { try pool.submit(opened) }
    }

    mutating func finish() throws {
        try flushRejects()
        if let last = assembler?.finish(), !streams { try pool.submit(last) }
    }

    mutating func flushRejects() throws {
        guard !pendingRejects.isEmpty else { return }
        try RecordStage.writeRejects(pendingRejects, to: rejects)
        pendingRejects.removeAll()
    }
}
