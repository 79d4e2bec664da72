import ByteJSON
import CArchive

#if canImport(Glibc)
import Glibc
#endif

// Reading records back out of shards: a shard folder (manifest.json, or a bare MDS index.json),
// or one shard file (JSONL, WebDataset tar, MDS; compressed or not). Every reader is a
// `RecordReader`, so shards feed any stage; damage becomes `.problem` items (rejects) that name
// the shard and the place in it.

/// The container of one shard file, from its name.
public enum ShardFileKind: String, Sendable {
    case jsonl, tar, mds

    public static func of(_ path: String) -> ShardFileKind {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var stem = name
        for suffix in [".gz", ".zst", ".zstd", ".xz", ".bz2", ".lz4"] where stem.hasSuffix(suffix) {
            stem.removeLast(suffix.count)
            break
        }
        if stem.hasSuffix(".tar") { return .tar }
        if stem.hasSuffix(".mds") { return .mds }
        return .jsonl
    }
}

/// Counts the bytes read through it (the uncompressed size of a shard).
final class CountingSource: ByteSource {
    let inner: ByteSource
    private(set) var count = 0
    init(_ inner: ByteSource) { self.inner = inner }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        let n = try inner.read(into: buffer)
        count += n
        return n
    }

    /// Reads to the end; a damaged stream's error is returned.
    func drain() throws(IOError) -> IOError? {
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        do {
            while try read(into: &chunk) > 0 {}
        } catch {
            if error.kind == .corrupt { return error }
            throw error
        }
        return nil
    }
}

// MARK: - tar

/// WebDataset samples of one (decompressed) tar stream: each sample's `.json` member is a record.
/// Members are grouped by key as WebDataset does (the name up to the first dot); a sample without
/// `.json`, or members of one key that are not adjacent, are problems.
final class TarShardReader: RecordReader {
    let archive: OpaquePointer
    let context: ArchiveReadContext
    let file: String
    let limits: ReaderLimits
    var finished = false
    var sample = -1
    var currentKey: String?
    var currentHasJSON = true
    var keys = Set<String>()
    private(set) var members = 0

    init(source: ByteSource, file: String, limits: ReaderLimits) {
        ensureUTF8Locale()
        self.file = file
        self.limits = limits
        context = ArchiveReadContext(input: source, bufferSize: 1 << 18)
        archive = archive_read_new()
        archive_read_support_format_tar(archive)
        _ = archive_read_open(archive, Unmanaged.passUnretained(context).toOpaque(), nil, archiveReadCallback, nil)
    }

    deinit { archive_read_free(archive) }

    private func problem(_ reason: RejectReason, _ detail: String, offset: Int? = nil) -> BatchItem {
        .problem(Reject(stage: "read", file: file, line: sample >= 0 ? sample + 1 : nil, index: max(0, sample), offset: offset, reason: reason, detail: detail))
    }

    private func closeSample(into batch: inout RecordBatch) {
        if let currentKey, !currentHasJSON {
            batch.items.append(problem(.missingField, "sample \"\(currentKey)\" has no .json member"))
        }
    }

    func nextBatch() throws(IOError) -> RecordBatch? {
        if finished { return nil }
        var batch = RecordBatch()
        while batch.storage.count < limits.batchBytes && batch.items.count < limits.batchRecords {
            var entry: OpaquePointer?
            let rc = archive_read_next_header(archive, &entry)
            if rc == ARCHIVE_EOF {
                closeSample(into: &batch)
                finished = true
                break
            }
            if rc < ARCHIVE_WARN || entry == nil {
                if let error = context.error, error.kind == .system { throw error }
                closeSample(into: &batch)
                let message = context.error?.message ?? archiveErrorString(archive)
                let place = sample >= 0 ? " after sample \(sample + 1) (\"\(currentKey ?? "")\")" : " before the first sample"
                batch.items.append(problem(.corruptStream, "tar stream is damaged or truncated\(place): \(message)"))
                finished = true
                break
            }
            members += 1
            let offset = Int(archive_read_header_position(archive))
            let name = archive_entry_pathname_utf8(entry).map { String(cString: $0) } ?? archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            let (key, ext) = TarShardReader.split(name)
            if key != currentKey {
                closeSample(into: &batch)
                sample += 1
                if keys.contains(key) {
                    batch.items.append(problem(.malformedJSON, "members of sample \"\(key)\" are not adjacent (WebDataset would read two samples)", offset: offset))
                }
                keys.insert(key)
                currentKey = key
                currentHasJSON = false
            }
            guard ext == "json" else {
                if archive_read_data_skip(archive) < ARCHIVE_WARN {
                    if let error = context.error, error.kind == .system { throw error }
                    batch.items.append(problem(.corruptStream, "tar stream is damaged or truncated in member \(name): \(context.error?.message ?? archiveErrorString(archive))"))
                    finished = true
                    break
                }
                continue
            }
            currentHasJSON = true
            let size = Int(archive_entry_size(entry))
            if size > limits.maxRecordBytes {
                _ = archive_read_data_skip(archive)
                batch.items.append(problem(.recordTooLarge, "\(name) is \(size) bytes; the limit is \(limits.maxRecordBytes)", offset: offset))
                continue
            }
            let start = batch.storage.count
            batch.storage.append(contentsOf: repeatElement(0, count: size))
            var done = 0
            var failed = false
            while done < size {
                let n = batch.storage.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress! + start + done, size - done) }
                if n <= 0 {
                    if let error = context.error, error.kind == .system { throw error }
                    failed = true
                    break
                }
                done += n
            }
            if failed {
                batch.storage.removeSubrange(start...)
                batch.items.append(problem(.corruptStream, "tar stream is damaged or truncated in member \(name): \(context.error?.message ?? archiveErrorString(archive))", offset: offset))
                finished = true
                break
            }
            batch.items.append(.record(RawRecord(range: start..<batch.storage.count,
                                                 location: RecordLocation(file: file, line: sample + 1, index: sample, offset: offset))))
        }
        return batch.items.isEmpty && finished ? nil : batch
    }

    /// WebDataset's rule: the key is the name up to the first dot of its last path component.
    static func split(_ name: String) -> (key: String, ext: String) {
        let slash = name.lastIndex(of: "/").map { name.index(after: $0) } ?? name.startIndex
        guard let dot = name[slash...].firstIndex(of: ".") else { return (name, "") }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }
}

// MARK: - MDS

/// The samples of one (decompressed) MDS shard as JSON records (columns in `order` when given).
final class MDSShardReader: RecordReader {
    let source: ByteSource
    let file: String
    let order: [String]?
    let limits: ReaderLimits
    private(set) var shard: MDSShard?
    private(set) var bytes: [UInt8] = []
    var next = 0
    var finished = false

    init(source: ByteSource, file: String, order: [String]?, limits: ReaderLimits) {
        self.source = source
        self.file = file
        self.order = order
        self.limits = limits
    }

    func nextBatch() throws(IOError) -> RecordBatch? {
        if finished { return nil }
        var batch = RecordBatch()
        if shard == nil {
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            do {
                while true {
                    let n = try source.read(into: &chunk)
                    if n == 0 { break }
                    bytes.append(contentsOf: chunk[0..<n])
                }
            } catch {
                guard error.kind == .corrupt else { throw error }
                finished = true
                batch.items.append(.problem(Reject(stage: "read", file: file, line: nil, index: 0, offset: bytes.count, reason: .corruptStream,
                                                   detail: error.message + " (the MDS shard cannot be read without all its bytes)")))
                return batch
            }
            do { shard = try MDSShard(bytes) } catch {
                finished = true
                batch.items.append(.problem(Reject(stage: "read", file: file, line: nil, index: 0, offset: 0, reason: .malformedJSON,
                                                   detail: "MDS shard: \(error.message)")))
                return batch
            }
        }
        guard let shard else { return nil }
        while next < shard.samples.count && batch.storage.count < limits.batchBytes && batch.items.count < limits.batchRecords {
            let k = next
            next += 1
            let offset = shard.samples[k].lowerBound
            do {
                let record = try shard.record(k, order: order)
                let start = batch.storage.count
                JSONWriter.compact.write(.object(record), into: &batch.storage)
                batch.items.append(.record(RawRecord(range: start..<batch.storage.count,
                                                     location: RecordLocation(file: file, line: k + 1, index: k, offset: offset))))
            } catch {
                batch.items.append(.problem(Reject(stage: "read", file: file, line: k + 1, index: k, offset: offset, reason: .malformedJSON,
                                                   detail: "MDS \(error.message)")))
            }
        }
        if next >= shard.samples.count { finished = true }
        return batch.items.isEmpty && finished ? nil : batch
    }
}

// MARK: - files and folders

/// Opens one shard file's records (decompressing by magic bytes).
func openShardFile(_ path: String, kind: ShardFileKind, order: [String]? = nil, limits: ReaderLimits,
                   wrap: (ByteSource) -> ByteSource = { $0 }) throws(IOError) -> RecordReader
{
    let (source, _) = try openDecompressed(path)
    let s = wrap(source)
    switch kind {
    case .jsonl: return JSONLReader(source: s, file: path, limits: limits)
    case .tar: return TarShardReader(source: s, file: path, limits: limits)
    case .mds: return MDSShardReader(source: s, file: path, order: order, limits: limits)
    }
}

/// The records of several shard files, one after the other. A missing or unreadable file is a
/// problem item (its records are lost), not the end of the run.
public final class ShardFilesReader: RecordReader {
    public let files: [String]
    let kinds: [ShardFileKind]
    let order: [String]?
    let limits: ReaderLimits
    var position = 0
    var current: RecordReader?

    init(files: [String], kinds: [ShardFileKind], order: [String]?, limits: ReaderLimits) {
        self.files = files
        self.kinds = kinds
        self.order = order
        self.limits = limits
    }

    public func nextBatch() throws(IOError) -> RecordBatch? {
        while true {
            if let current, let batch = try current.nextBatch() { return batch }
            current = nil
            guard position < files.count else { return nil }
            let path = files[position]
            let kind = kinds[position]
            position += 1
            if !fileExists(path) {
                var batch = RecordBatch()
                batch.items = [.problem(Reject(stage: "read", file: path, line: nil, index: 0, offset: nil, reason: .corruptStream,
                                               detail: "shard file is missing"))]
                return batch
            }
            current = try openShardFile(path, kind: kind, order: order, limits: limits)
        }
    }
}

/// Shard sets as inputs.
public enum ShardSet {
    /// True for a folder holding manifest.json or index.json, or a file named like a tar or MDS shard.
    public static func isShardInput(_ path: String) -> Bool {
        if isDirectory(path) {
            return fileExists(joinPath(path, ShardManifest.fileName)) || fileExists(joinPath(path, "index.json"))
        }
        return ShardFileKind.of(path) != .jsonl
    }

    /// A record reader over a shard folder (in manifest order; a bare MDS index.json works too) or
    /// one shard file. Throws for a folder that is not a shard set, or whose manifest is unreadable.
    /// Stages can call this from `openRecords` for inputs where `isShardInput` holds.
    public static func openReader(_ path: String, limits: ReaderLimits = .init()) throws(IOError) -> (reader: RecordReader, description: String) {
        do {
            return try open(path, limits: limits)
        } catch let error as IOError {
            throw error
        } catch {
            throw IOError(path: path, "\(error)")
        }
    }

    private static func open(_ path: String, limits: ReaderLimits) throws -> (reader: RecordReader, description: String) {
        if isDirectory(path) {
            if let bytes = try readWholeFile(joinPath(path, ShardManifest.fileName)) {
                let manifest = try ShardManifest.parse(bytes)
                let files = manifest.shards.map { joinPath(path, $0.file) }
                let reader = ShardFilesReader(files: files, kinds: files.map(ShardFileKind.of), order: manifest.columns?.map(\.name), limits: limits)
                return (reader, "\(path): \(manifest.format.rawValue) shard set, \(files.count) shards, \(manifest.totalRecords) records")
            }
            if let bytes = try readWholeFile(joinPath(path, "index.json")) {
                let files = try mdsIndexFiles(bytes, folder: path)
                return (ShardFilesReader(files: files, kinds: files.map { _ in .mds }, order: nil, limits: limits),
                        "\(path): MDS index, \(files.count) shards")
            }
            throw IOError(path: path, "is a folder without manifest.json or index.json (not a shard set)")
        }
        let kind = ShardFileKind.of(path)
        return (try openShardFile(path, kind: kind, limits: limits), "\(path): \(kind.rawValue) shard")
    }

    /// The shard files an MDS index.json lists (the compressed file when there is one).
    static func mdsIndexFiles(_ bytes: [UInt8], folder: String) throws -> [String] {
        guard case .array(let shards)? = (try? JSON.parse(bytes))?["shards"] else {
            throw ShardManifestError("\(folder)/index.json is not an MDS index (no \"shards\" list)")
        }
        return try shards.enumerated().map { k, s in
            let name = s["zip_data"]?["basename"]?.string ?? s["raw_data"]?["basename"]?.string
            guard let name, !name.contains("/") else { throw ShardManifestError("\(folder)/index.json: shards[\(k)] names no file") }
            return joinPath(folder, name)
        }
    }
}
