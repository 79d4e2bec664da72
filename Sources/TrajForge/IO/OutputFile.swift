import CArchive
import CZlib
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// Output: a file appears under its name only when complete (written to a temporary name in the
// same folder, synced, renamed), optionally compressed with gzip (zlib, header mtime 0) or zstd
// (libarchive). Compression runs on a background thread so it overlaps the work producing bytes.

/// Something that takes bytes.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError)
    /// Flushes and closes; no writes after.
    func finish() throws(IOError)
}

extension ByteSink {
    public func write(_ bytes: [UInt8]) throws(IOError) {
        let result: Result<Void, IOError> = bytes.withUnsafeBytes { b in
            do throws(IOError) { return .success(try write(b)) } catch { return .failure(error) }
        }
        try result.get()
    }
}

/// Writes to a file descriptor.
final class DescriptorSink: ByteSink {
    let fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
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

    func finish() throws(IOError) {}
}

/// gzip via zlib (windowBits 31): the header carries mtime 0 and no name, so output is reproducible.
final class GzipSink: ByteSink {
    let next: ByteSink
    let path: String
    let strm = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    var out = [UInt8](repeating: 0, count: 1 << 18)

    init(next: ByteSink, path: String, level: Int32) throws(IOError) {
        self.next = next
        self.path = path
        strm.initialize(to: z_stream())
        guard czlib_deflateInit2(strm, level, 15 + 16) == Z_OK else {
            // deinit releases strm (deflateEnd on a failed init is a harmless Z_STREAM_ERROR).
            throw IOError(path: path, "zlib deflateInit failed (level \(level))")
        }
    }

    deinit {
        deflateEnd(strm)
        strm.deallocate()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        try pump(bytes, flush: Z_NO_FLUSH)
    }

    func finish() throws(IOError) {
        try pump(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
        try next.finish()
    }

    private func pump(_ input: UnsafeRawBufferPointer, flush: Int32) throws(IOError) {
        strm.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        strm.pointee.avail_in = uInt(input.count)
        repeat {
            let (rc, have) = out.withUnsafeMutableBufferPointer { buf -> (Int32, Int) in
                strm.pointee.next_out = buf.baseAddress
                strm.pointee.avail_out = uInt(buf.count)
                let rc = deflate(strm, flush)
                return (rc, buf.count - Int(strm.pointee.avail_out))
            }
            guard rc != Z_STREAM_ERROR else { throw IOError(path: path, "zlib deflate failed") }
            if have > 0 { try next.write(Array(out[0..<have])) }
        } while strm.pointee.avail_out == 0
    }
}

final class ArchiveWriteContext {
    let next: ByteSink
    var error: IOError?
    init(next: ByteSink) { self.next = next }
}

private let archiveWriteCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> la_ssize_t = { _, ctx, buf, n in
    let context = Unmanaged<ArchiveWriteContext>.fromOpaque(ctx!).takeUnretainedValue()
    do {
        try context.next.write(UnsafeRawBufferPointer(start: buf, count: n))
        return n
    } catch {
        context.error = error as? IOError ?? IOError(path: "", "\(error)")
        return -1
    }
}

/// zstd via libarchive's raw format (one unnamed entry) and its zstd filter.
final class ZstdSink: ByteSink {
    let archive: OpaquePointer
    let context: ArchiveWriteContext
    let path: String

    init(next: ByteSink, path: String, level: Int) throws(IOError) {
        ensureUTF8Locale()
        self.path = path
        context = ArchiveWriteContext(next: next)
        archive = archive_write_new()
        archive_write_set_format_raw(archive)
        archive_write_add_filter_zstd(archive)
        archive_write_set_bytes_per_block(archive, 0)
        _ = archive_write_set_filter_option(archive, "zstd", "compression-level", String(level))
        guard archive_write_open2(archive, Unmanaged.passUnretained(context).toOpaque(), nil, archiveWriteCallback, nil, nil) == ARCHIVE_OK else {
            // deinit frees the archive.
            throw IOError(path: path, "cannot start zstd stream: \(archiveErrorString(archive))")
        }
        let entry = archive_entry_new()
        archive_entry_set_pathname_utf8(entry, "data")
        archive_entry_set_filetype(entry, carchive_AE_IFREG)
        archive_entry_set_perm(entry, 0o644)
        let rc = archive_write_header(archive, entry)
        archive_entry_free(entry)
        guard rc >= ARCHIVE_WARN else {
            // deinit frees the archive.
            throw IOError(path: path, "cannot start zstd stream: \(archiveErrorString(archive))")
        }
    }

    deinit { archive_write_free(archive) }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        var done = 0
        while done < bytes.count {
            let n = archive_write_data(archive, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 {
                if let error = context.error { throw error }
                throw IOError(path: path, "zstd write failed: \(archiveErrorString(archive))")
            }
            done += n
        }
    }

    func finish() throws(IOError) {
        if archive_write_close(archive) != ARCHIVE_OK {
            if let error = context.error { throw error }
            throw IOError(path: path, "zstd close failed: \(archiveErrorString(archive))")
        }
        try context.next.finish()
    }
}

/// Output compression choice and level.
public struct OutputCompression: Sendable, Equatable {
    public var codec: Compression
    /// gzip 1–9 (default 6); zstd 1–19 (default 3).
    public var level: Int?

    public init(_ codec: Compression, level: Int? = nil) {
        self.codec = codec
        self.level = level
    }
}

/// A file written atomically: bytes go to `.<name>.tmp-<pid>-<n>` beside the target, which is
/// synced and renamed over the target by `commit()`. If the process dies or `abort()` runs, no
/// file under the target name appears (or the old one stays). "-" writes to standard output.
public final class OutputFile {
    public let path: String
    let tempPath: String?
    let fd: Int32
    let sink: ByteSink
    let writer: BackgroundWriter
    var committed = false
    nonisolated(unsafe) static var counter = 0
    static let counterLock = NSLock()

    /// Writes to standard error (for rejects when the output itself goes to standard output).
    public static func standardError() throws(IOError) -> OutputFile {
        try OutputFile(path: "<stderr>", compression: OutputCompression(.none), descriptor: 2)
    }

    public init(path: String, compression: OutputCompression, descriptor: Int32? = nil) throws(IOError) {
        self.path = path
        if let descriptor {
            fd = descriptor
            tempPath = nil
        } else if path == "-" {
            fd = 1
            tempPath = nil
        } else if OutputFile.isSpecialFile(path) {
            // /dev/null, a FIFO, a terminal: write straight to it (renaming over it would replace it).
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw IOError.errno(path, "cannot open") }
            self.fd = fd
            tempPath = nil
        } else {
            let url = URL(fileURLWithPath: path)
            let dir = url.deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: dir) {
                do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                    throw IOError(path: dir, "cannot create folder: \(error.localizedDescription)")
                }
            }
            OutputFile.counterLock.lock()
            OutputFile.counter += 1
            let n = OutputFile.counter
            OutputFile.counterLock.unlock()
            let temp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(n)"
            let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw IOError.errno(path, "cannot create") }
            self.fd = fd
            tempPath = temp
        }
        let base = DescriptorSink(fd: fd, path: path)
        do throws(IOError) {
            switch compression.codec {
            case .none: sink = base
            case .gzip: sink = try GzipSink(next: base, path: path, level: Int32(compression.level ?? 6))
            case .zstd: sink = try ZstdSink(next: base, path: path, level: compression.level ?? 3)
            default: throw IOError(path: path, "writing \(compression.codec.rawValue) is not supported (use gzip or zstd)")
            }
        } catch {
            if let tempPath {
                close(fd)
                unlink(tempPath)
            }
            throw error
        }
        writer = BackgroundWriter(sink: sink)
    }

    deinit { abort() }

    /// True when `path` exists and is not a regular file (or a link to one).
    static func isSpecialFile(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return (st.st_mode & S_IFMT) != S_IFREG
    }

    /// Queues bytes; compression and the write happen on a background thread.
    public func write(_ bytes: [UInt8]) throws(IOError) {
        try writer.enqueue(bytes)
    }

    /// Finishes the stream, syncs, and renames the file into place.
    public func commit() throws(IOError) {
        guard !committed else { return }
        try writer.finish()
        committed = true
        guard let tempPath else {
            if fd > 2 { close(fd) }
            return
        }
        if fsync(fd) != 0 { throw IOError.errno(path, "fsync failed") }
        close(fd)
        if rename(tempPath, path) != 0 { throw IOError.errno(path, "cannot rename \(tempPath) into place") }
    }

    /// Discards the temporary file (nothing appears under the target name).
    public func abort() {
        guard !committed else { return }
        committed = true
        writer.cancel()
        if let tempPath {
            close(fd)
            unlink(tempPath)
        } else if fd > 2 {
            close(fd)
        }
    }
}

/// Runs a sink on its own thread with a small bounded queue, so compression overlaps production.
final class BackgroundWriter: @unchecked Sendable {
    let sink: ByteSink
    let condition = NSCondition()
    var queue: [[UInt8]] = []
    var closing = false
    var cancelled = false
    var done = false
    var error: IOError?
    let maxQueued = 4
    var thread: Thread?

    init(sink: ByteSink) {
        self.sink = sink
        let t = Thread { [unowned self] in self.run() }
        t.name = "trajforge-writer"
        thread = t
        t.start()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closing && !cancelled { condition.wait() }
            if cancelled || (queue.isEmpty && closing) {
                let shouldFinish = !cancelled && error == nil
                condition.unlock()
                if shouldFinish {
                    do { try sink.finish() } catch {
                        condition.lock()
                        self.error = error
                        condition.unlock()
                    }
                }
                condition.lock()
                done = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let chunk = queue.removeFirst()
            condition.broadcast()
            let failed = error != nil
            condition.unlock()
            if failed { continue }
            do { try sink.write(chunk) } catch {
                condition.lock()
                self.error = error
                condition.unlock()
            }
        }
    }

    func enqueue(_ bytes: [UInt8]) throws(IOError) {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= maxQueued && error == nil { condition.wait() }
        if let error { throw error }
        queue.append(bytes)
        condition.broadcast()
    }

    func finish() throws(IOError) {
        condition.lock()
        closing = true
        condition.broadcast()
        while !done { condition.wait() }
        let error = self.error
        condition.unlock()
        if let error { throw error }
    }

    func cancel() {
        condition.lock()
        if !done {
            cancelled = true
            condition.broadcast()
            while !done { condition.wait() }
        }
        condition.unlock()
    }
}
