import ByteJSON
import CArchive
import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// Byte plumbing for shards: a sink that hashes and writes a file, a byte counter, an in-memory
// sink, the compressor chain, a tar (ustar) writer on libarchive, and small file helpers.

/// Counts the bytes that pass through.
final class CountingSink: ByteSink {
    let next: ByteSink
    private(set) var count = 0
    init(next: ByteSink) { self.next = next }
    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        count += bytes.count
        try next.write(bytes)
    }
    func finish() throws(IOError) { try next.finish() }
}

/// Collects bytes in memory.
final class MemorySink: PatchableSink {
    var bytes: [UInt8] = []
    var count: Int { bytes.count }
    func write(_ b: UnsafeRawBufferPointer) throws(IOError) { bytes.append(contentsOf: b) }
    func patch(_ patch: [UInt8], at offset: Int) throws(IOError) { bytes.replaceSubrange(offset..<(offset + patch.count), with: patch) }
    func finish() throws(IOError) {}
}

/// Discards bytes (benchmarks of the bare compressor).
final class NullSink: ByteSink {
    private(set) var count = 0
    func write(_ b: UnsafeRawBufferPointer) throws(IOError) { count += b.count }
    func finish() throws(IOError) {}
}

/// Writes a shard file and hashes it (SHA-256, plus extra algorithms for the MDS index) on a
/// thread of its own, so the thread that compresses only compresses. Bytes are gathered into
/// 1 MiB buffers and handed over (at most `queueLimit` wait, so memory stays small). `finish`
/// hands over the rest and returns; `whenDone` runs once the file is written, hashed and fsynced.
///
/// With `hashAtEnd`, bytes may be patched after they are written (a streamed zstd frame's size
/// field): nothing is hashed on the way, and the finished file is hashed, read back from the
/// page cache.
final class HashingFileSink: PatchableSink, @unchecked Sendable {
    static let bufferBytes = 1 << 20
    static let queueLimit = 4
    let fd: Int32
    let path: String
    let hashAtEnd: Bool
    private(set) var count = 0

    // The writing side (the caller's thread).
    private var buffer: [UInt8] = []
    /// Bytes handed to the file thread (the rest are in `buffer`).
    private var handed = 0
    private var ended = false

    // Shared, under `condition`.
    private let condition = NSCondition()
    private var queue: [[UInt8]] = []
    private var spare: [[UInt8]] = []
    private var patches: [(offset: Int, bytes: [UInt8])] = []
    private var closing = false
    private var done = false
    private var failure: IOError?
    private var completion: (@Sendable (Result<Void, IOError>) -> Void)?

    // The file thread's; read by others only once `done`.
    private var sha = SHA256()
    private var extra: [(String, MDSHash.Running)]
    private(set) var sha256Hex = ""
    private(set) var extraHex: [String: String] = [:]

    /// `thread`: where the file is written (a worker's files go through one thread, in order);
    /// nil starts a thread for this file alone.
    init(fd: Int32, path: String, extraHashes: [String] = [], hashAtEnd: Bool = false, thread: SerialThread? = nil) {
        self.fd = fd
        self.path = path
        self.hashAtEnd = hashAtEnd
        extra = extraHashes.map { ($0, MDSHash.Running($0)) }
        buffer.reserveCapacity(HashingFileSink.bufferBytes)
        if let thread {
            thread.run { [self] in run() }
        } else {
            let t = Thread { [self] in run() }
            t.name = "trajforge-shard-file"
            t.start()
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        count += bytes.count
        var rest = bytes
        while !rest.isEmpty {
            let n = min(HashingFileSink.bufferBytes - buffer.count, rest.count)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<(rest.startIndex + n)]))
            rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + n)...])
            if buffer.count == HashingFileSink.bufferBytes { try handOver() }
        }
    }

    /// Queues the buffer for the file thread (waiting while the queue is full).
    private func handOver() throws(IOError) {
        guard !buffer.isEmpty else { return }
        condition.lock()
        while queue.count >= HashingFileSink.queueLimit && failure == nil { condition.wait() }
        if let failure {
            condition.unlock()
            throw failure
        }
        handed += buffer.count
        queue.append(buffer)
        buffer = spare.popLast() ?? []
        condition.broadcast()
        condition.unlock()
        buffer.reserveCapacity(HashingFileSink.bufferBytes)
    }

    func patch(_ bytes: [UInt8], at offset: Int) throws(IOError) {
        guard hashAtEnd, !ended, offset >= 0, offset + bytes.count <= count else {
            throw IOError(path: path, "internal error: patch of \(bytes.count) bytes at \(offset) in \(count) (hashing at the end: \(hashAtEnd))")
        }
        // The part already handed over is written once the rest is; the part still here goes in now.
        let handedPart = max(0, min(bytes.count, handed - offset))
        if handedPart > 0 {
            condition.lock()
            patches.append((offset, Array(bytes[0..<handedPart])))
            condition.unlock()
        }
        for k in handedPart..<bytes.count { buffer[offset + k - handed] = bytes[k] }
    }

    /// Hands over the last bytes; the file thread then writes, hashes and fsyncs (see `whenDone`).
    func finish() throws(IOError) {
        guard !ended else { return }
        try handOver()
        ended = true
        condition.lock()
        closing = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the file thread after what it has (a failed shard) and waits for it.
    func abandon() {
        ended = true
        condition.lock()
        closing = true
        if failure == nil { failure = IOError(path: path, "abandoned") }
        condition.broadcast()
        while !done { condition.wait() }
        condition.unlock()
    }

    /// Runs `body` once the file is complete (at once if it is): on the file thread, or here.
    func whenDone(_ body: @escaping @Sendable (Result<Void, IOError>) -> Void) {
        condition.lock()
        if done {
            let outcome: Result<Void, IOError> = failure.map { .failure($0) } ?? .success(())
            condition.unlock()
            body(outcome)
            return
        }
        completion = body
        condition.unlock()
    }

    /// Waits until the file is complete; throws its failure.
    func waitDone() throws(IOError) {
        condition.lock()
        while !done { condition.wait() }
        let failure = self.failure
        condition.unlock()
        if let failure { throw failure }
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closing { condition.wait() }
            if queue.isEmpty || failure != nil {
                condition.unlock()
                break
            }
            var piece = queue.removeFirst()
            condition.unlock()
            let written: Result<Void, IOError> = piece.withUnsafeBytes { b in
                if !hashAtEnd { hash(b) }
                do throws(IOError) { return .success(try writeAll(fd, b, path: path)) } catch { return .failure(error) }
            }
            piece.removeAll(keepingCapacity: true)
            condition.lock()
            if case .failure(let e) = written, failure == nil { failure = e }
            spare.append(piece)
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        let patches = self.patches
        var failure = self.failure
        condition.unlock()
        if failure == nil {
            do throws(IOError) {
                for p in patches {
                    let n = p.bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(p.offset)) }
                    if n != p.bytes.count { throw IOError.errno(path, "write failed") }
                }
                if hashAtEnd { try hashFile() }
                if fsync(fd) != 0 { throw IOError.errno(path, "fsync failed") }
                sha256Hex = hexString(sha.finalize())
                extraHex = Dictionary(uniqueKeysWithValues: extra.map { ($0.0, $0.1.hex()) })
            } catch {
                failure = error
            }
        }
        condition.lock()
        if self.failure == nil { self.failure = failure }
        done = true
        let completion = self.completion
        self.completion = nil
        condition.broadcast()
        condition.unlock()
        completion?(failure.map { .failure($0) } ?? .success(()))
    }

    private func hash(_ bytes: UnsafeRawBufferPointer) {
        sha.update(bufferPointer: bytes)
        for k in extra.indices { extra[k].1.update(bytes) }
    }

    /// Hashes the file's `count` bytes as they now are.
    private func hashFile() throws(IOError) {
        var chunk = [UInt8](repeating: 0, count: HashingFileSink.bufferBytes)
        var at = 0
        while at < count {
            let n = chunk.withUnsafeMutableBytes { b in pread(fd, b.baseAddress, min(b.count, count - at), off_t(at)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw n < 0 ? IOError.errno(path, "read failed") : IOError(path: path, "the file ends at \(at) of \(count) bytes") }
            chunk.withUnsafeBytes { hash(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            at += n
        }
    }
}

/// One long-lived thread that runs jobs in the order given (a shard worker's files: a thread per
/// file would cost a thread start per shard, which shows with thousands of tiny shards).
final class SerialThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var stopping = false

    init(name: String) {
        let t = Thread { [self] in loop() }
        t.name = name
        t.start()
    }

    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// The thread ends once its jobs are done.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(IOError) {
    var done = 0
    while done < bytes.count {
        let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            throw IOError.errno(path, "write failed")
        }
        done += n
    }
}

/// The compressor for `codec` in front of `next` (none: `next` itself), for exactly `size` bytes
/// (nil: not known yet, the shard is still being read). gzip: zlib, header with mtime 0 and no
/// name. zstd: one frame with the size in its header (`next` must be patchable without `size`).
func compressorSink(_ codec: ShardCodec, level: Int?, next: ByteSink, path: String, size: Int?) throws(IOError) -> ByteSink {
    switch codec {
    case .none: return next
    case .gzip: return try GzipSink(next: next, path: path, level: Int32(level ?? 6))
    case .zstd: return try ZstdFrameSink(next: next, path: path, level: level ?? 3, size: size)
    }
}

extension ByteSink {
    func write(_ bytes: ArraySlice<UInt8>) throws(IOError) {
        let result: Result<Void, IOError> = bytes.withUnsafeBytes { b in
            do throws(IOError) { return .success(try write(b)) } catch { return .failure(error) }
        }
        try result.get()
    }
}

// MARK: - tar

private let tarWriteCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> la_ssize_t = { _, ctx, buf, n in
    let context = Unmanaged<ArchiveWriteContext>.fromOpaque(ctx!).takeUnretainedValue()
    do {
        try context.next.write(UnsafeRawBufferPointer(start: buf, count: n))
        return n
    } catch {
        context.error = error as? IOError ?? IOError(path: "", "\(error)")
        return -1
    }
}

/// A POSIX ustar stream on libarchive with every varying header field pinned (mtime 0, uid/gid 0,
/// owner root:root, mode 0644), so the same members always give the same bytes. The stream is
/// padded to 10240-byte records, as tar and Python's tarfile do.
final class TarStreamWriter {
    static let mtime = 0
    let archive: OpaquePointer
    let context: ArchiveWriteContext
    let path: String
    let entry: OpaquePointer

    init(next: ByteSink, path: String) throws(IOError) {
        ensureUTF8Locale()
        self.path = path
        context = ArchiveWriteContext(next: next)
        archive = archive_write_new()
        entry = archive_entry_new()
        archive_write_set_format_ustar(archive)
        archive_write_add_filter_none(archive)
        guard archive_write_open2(archive, Unmanaged.passUnretained(context).toOpaque(), nil, tarWriteCallback, nil, nil) == ARCHIVE_OK else {
            throw IOError(path: path, "cannot start tar stream: \(archiveErrorString(archive))")
        }
    }

    deinit {
        archive_entry_free(entry)
        archive_write_free(archive)
    }

    /// The bytes a member of `size` bytes takes: a 512-byte header plus the data padded to 512.
    static func memberBytes(_ size: Int) -> Int { 512 + (size + 511) / 512 * 512 }
    /// A stream whose members take `members` bytes: plus two zero blocks, padded to 10240.
    static func streamBytes(members: Int) -> Int { (members + 1024 + 10239) / 10240 * 10240 }

    func add(name: String, data: ArraySlice<UInt8>) throws(IOError) {
        archive_entry_clear(entry)
        archive_entry_set_pathname_utf8(entry, name)
        archive_entry_set_size(entry, la_int64_t(data.count))
        archive_entry_set_filetype(entry, carchive_AE_IFREG)
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, time_t(TarStreamWriter.mtime), 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        archive_entry_set_uname(entry, "root")
        archive_entry_set_gname(entry, "root")
        guard archive_write_header(archive, entry) == ARCHIVE_OK else {
            if let error = context.error { throw error }
            throw IOError(path: path, "tar header for \(name) failed: \(archiveErrorString(archive))")
        }
        let result: Result<Void, IOError> = data.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = archive_write_data(archive, b.baseAddress! + done, b.count - done)
                if n <= 0 {
                    return .failure(context.error ?? IOError(path: path, "tar write of \(name) failed: \(archiveErrorString(archive))"))
                }
                done += n
            }
            return .success(())
        }
        try result.get()
    }

    /// Writes the end-of-archive blocks (does not finish the next sink).
    func close() throws(IOError) {
        if archive_write_close(archive) != ARCHIVE_OK {
            if let error = context.error { throw error }
            throw IOError(path: path, "tar close failed: \(archiveErrorString(archive))")
        }
    }
}

// MARK: - files

/// Reads a whole file (nil when it does not exist).
func readWholeFile(_ path: String) throws(IOError) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        if errno == ENOENT { return nil }
        throw IOError.errno(path, "cannot open")
    }
    defer { close(fd) }
    var out: [UInt8] = []
    var st = stat()
    if fstat(fd, &st) == 0, st.st_size > 0 { out.reserveCapacity(Int(st.st_size)) }
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw IOError.errno(path, "read failed")
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}

/// SHA-256 and size of a file (nil when it does not exist).
func hashFile(_ path: String) throws(IOError) -> (sha256: String, bytes: Int)? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        if errno == ENOENT { return nil }
        throw IOError.errno(path, "cannot open")
    }
    defer { close(fd) }
    var sha = SHA256()
    var total = 0
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw IOError.errno(path, "read failed")
        }
        if n == 0 { break }
        chunk.withUnsafeBytes { sha.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        total += n
    }
    return (hexString(sha.finalize()), total)
}

/// Writes `bytes` to `path` atomically (temporary name, fsync, rename).
func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws(IOError) {
    let temp = path + ".tmp-\(getpid())"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw IOError.errno(path, "cannot create") }
    do throws(IOError) {
        let result: Result<Void, IOError> = bytes.withUnsafeBytes { b in
            do throws(IOError) { return .success(try writeAll(fd, b, path: path)) } catch { return .failure(error) }
        }
        try result.get()
        if fsync(fd) != 0 { throw IOError.errno(path, "fsync failed") }
    } catch {
        close(fd)
        unlink(temp)
        throw error
    }
    close(fd)
    if rename(temp, path) != 0 {
        unlink(temp)
        throw IOError.errno(path, "cannot rename into place")
    }
}

/// fsyncs a folder so renames inside it survive a crash.
func syncFolder(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
        _ = fsync(fd)
        close(fd)
    }
}

func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}

func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

func fileSize(_ path: String) -> Int? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return Int(st.st_size)
}

func joinPath(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}

/// Removes a folder and everything in it (best effort).
func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Counts (and optionally hashes, for the MDS index) the uncompressed bytes of a shard.
final class RawSink: ByteSink {
    let next: ByteSink
    var hashes: [(String, MDSHash.Running)]
    private(set) var count = 0

    init(next: ByteSink, hashes: [String]) {
        self.next = next
        self.hashes = hashes.map { ($0, MDSHash.Running($0)) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        count += bytes.count
        for k in hashes.indices { hashes[k].1.update(bytes) }
        try next.write(bytes)
    }

    func finish() throws(IOError) { try next.finish() }

    var hex: [String: String] { Dictionary(uniqueKeysWithValues: hashes.map { ($0.0, $0.1.hex()) }) }
}

/// SHA-256 of bytes in memory, as lowercase hex.
func sha256Hex(_ bytes: [UInt8]) -> String { hexString(SHA256.hash(data: bytes)) }

/// Compresses `bytes` as one shard would be (one gzip member or one zstd frame) and returns the
/// compressed size: the bare compressor, for benchmarks against whole shard runs.
public func compressShardBytes(_ bytes: ArraySlice<UInt8>, codec: ShardCodec, level: Int?) throws(IOError) -> Int {
    let sink = NullSink()
    let compressor = try compressorSink(codec, level: level, next: sink, path: "<memory>", size: bytes.count)
    var at = bytes.startIndex
    while at < bytes.endIndex {
        let end = min(bytes.endIndex, at + (1 << 20))
        try compressor.write(bytes[at..<end])
        at = end
    }
    try compressor.finish()
    return codec == .none ? bytes.count : sink.count
}
