import CArchive
import CZlib

#if canImport(Glibc)
import Glibc
#endif

/// Compression of a byte stream, recognised by its magic bytes (never by the file name).
public enum Compression: String, Sendable, CaseIterable {
    case none, gzip, zstd, xz, bzip2, lz4

    /// Identifies the compression from the first bytes of a stream.
    public static func sniff(_ head: [UInt8]) -> Compression {
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head.prefix(magic.count)) == magic }
        if starts([0x1F, 0x8B]) { return .gzip }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .xz }
        if starts([0x42, 0x5A, 0x68]) { return .bzip2 }
        if starts([0x04, 0x22, 0x4D, 0x18]) { return .lz4 }
        return .none
    }

    /// The usual file-name suffix for output written with this compression.
    public var suffix: String {
        switch self {
        case .none: ""
        case .gzip: ".gz"
        case .zstd: ".zst"
        case .xz: ".xz"
        case .bzip2: ".bz2"
        case .lz4: ".lz4"
        }
    }

    /// The compression an output path asks for by its suffix (`.gz`, `.zst`); none otherwise.
    public static func forOutputPath(_ path: String) -> Compression {
        if path.hasSuffix(".gz") { return .gzip }
        if path.hasSuffix(".zst") || path.hasSuffix(".zstd") { return .zstd }
        return .none
    }
}

/// Opens a path (or "-" for stdin) and undoes whatever compression its magic bytes show.
public func openDecompressed(_ path: String) throws(IOError) -> (source: ByteSource, compression: Compression) {
    let raw = try FileSource(path: path)
    let head = try raw.readUpTo(8)  // the compressed bytes: a file-system error here is real
    let compression = Compression.sniff(head)
    let replay = PrefixedSource(prefix: head, rest: raw)
    switch compression {
    case .none: return (replay, .none)
    case .gzip: return (try GzipSource(replay, path: path), .gzip)
    default: return (try ArchiveFilterSource(replay, path: path, compression: compression), compression)
    }
}

// MARK: - gzip (zlib)

/// Inflates a gzip stream, including concatenated members. A stream that ends before its
/// end-of-stream marker, or has damaged data, is an `IOError.corrupt` naming the compressed offset.
public final class GzipSource: ByteSource {
    let input: ByteSource
    let path: String
    // z_stream must not move after inflateInit (zlib keeps a back-pointer): heap-allocate it.
    let strm = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    var inBuffer = [UInt8](repeating: 0, count: 1 << 20)
    var inputEnded = false
    var streamEnded = false
    var compressedOffset = 0
    /// A damage found after some bytes of a read were produced: those are returned first.
    var pendingError: IOError?

    public init(_ input: ByteSource, path: String) throws(IOError) {
        self.input = input
        self.path = path
        strm.initialize(to: z_stream())
        guard czlib_inflateInit2(strm, 15 + 16) == Z_OK else {
            // deinit releases strm (inflateEnd on a failed init is a harmless Z_STREAM_ERROR).
            throw IOError(path: path, "zlib inflateInit failed")
        }
    }

    deinit {
        inflateEnd(strm)
        strm.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        if let pendingError { throw pendingError }
        if streamEnded || buffer.count == 0 { return 0 }
        strm.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        strm.pointee.avail_out = uInt(buffer.count)
        while strm.pointee.avail_out > 0 {
            if strm.pointee.avail_in == 0 && !inputEnded {
                let n = try input.read(into: &inBuffer)
                if n == 0 {
                    inputEnded = true
                } else {
                    inBuffer.withUnsafeMutableBufferPointer { strm.pointee.next_in = $0.baseAddress }
                    strm.pointee.avail_in = uInt(n)
                }
            }
            if strm.pointee.avail_in == 0 && inputEnded {
                return try fail(IOError(.corrupt, path: path,
                                        "gzip stream is truncated: it ends after \(compressedOffset) compressed bytes without its end-of-stream marker"),
                                produced: buffer.count - Int(strm.pointee.avail_out))
            }
            let before = strm.pointee.avail_in
            let rc = inflate(strm, Z_NO_FLUSH)
            compressedOffset += Int(before - strm.pointee.avail_in)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_STREAM_END:
                // Another gzip member may follow (concatenated .gz files are valid gzip).
                if strm.pointee.avail_in == 0 && !inputEnded {
                    let n = try input.read(into: &inBuffer)
                    if n == 0 { inputEnded = true } else {
                        inBuffer.withUnsafeMutableBufferPointer { strm.pointee.next_in = $0.baseAddress }
                        strm.pointee.avail_in = uInt(n)
                    }
                }
                if strm.pointee.avail_in == 0 {
                    streamEnded = true
                    return buffer.count - Int(strm.pointee.avail_out)
                }
                inflateReset(strm)
            default:
                let message = strm.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                return try fail(IOError(.corrupt, path: path, "gzip data is damaged near compressed byte \(compressedOffset): \(message)"),
                                produced: buffer.count - Int(strm.pointee.avail_out))
            }
        }
        return buffer.count
    }

    /// Hands out what was decompressed before the damage; the error comes with the next read.
    private func fail(_ error: IOError, produced: Int) throws(IOError) -> Int {
        if produced == 0 { throw error }
        pendingError = error
        return produced
    }
}

// MARK: - zstd, xz, bzip2, lz4 (libarchive's raw format over its decompression filters)

/// Holds what libarchive's read callback needs: the source stream and a chunk buffer (also used
/// by the WebDataset tar reader).
final class ArchiveReadContext {
    let input: ByteSource
    var buffer: [UInt8]
    var error: IOError?
    init(input: ByteSource, bufferSize: Int = 1 << 20) {
        self.input = input
        buffer = [UInt8](repeating: 0, count: bufferSize)
    }
}

/// libarchive's read callback over an `ArchiveReadContext`.
let archiveReadCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafeRawPointer?>?) -> la_ssize_t = { _, ctx, out in
    let context = Unmanaged<ArchiveReadContext>.fromOpaque(ctx!).takeUnretainedValue()
    do {
        let n = try context.input.read(into: &context.buffer)
        context.buffer.withUnsafeBytes { out?.pointee = $0.baseAddress }
        return n
    } catch {
        context.error = error as? IOError ?? IOError(path: "", "\(error)")
        return -1
    }
}

/// Decompresses zstd (and xz, bzip2, lz4) streams through libarchive.
public final class ArchiveFilterSource: ByteSource {
    let archive: OpaquePointer
    let context: ArchiveReadContext
    let path: String
    let compression: Compression
    var produced = 0
    var ended = false
    /// A stream damaged so early that libarchive failed to open it: reported by the first read,
    /// so the caller treats it like any other damaged input (a reject, not a failed run).
    var openError: IOError?

    public init(_ input: ByteSource, path: String, compression: Compression) throws(IOError) {
        ensureUTF8Locale()
        self.path = path
        self.compression = compression
        context = ArchiveReadContext(input: input)
        archive = archive_read_new()
        archive_read_support_filter_all(archive)
        archive_read_support_format_raw(archive)
        let opened = archive_read_open(archive, Unmanaged.passUnretained(context).toOpaque(), nil, archiveReadCallback, nil)
        var entry: OpaquePointer?
        if opened != ARCHIVE_OK || archive_read_next_header(archive, &entry) != ARCHIVE_OK {
            if let error = context.error, error.kind == .system { throw error }
            openError = IOError(.corrupt, path: path, "cannot read \(compression.rawValue) stream: \(archiveErrorString(archive))")
        }
    }

    deinit { archive_read_free(archive) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        if let openError { throw openError }
        if ended { return 0 }
        let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
        if n < 0 {
            if let error = context.error { throw error }
            throw IOError(.corrupt, path: path,
                          "\(compression.rawValue) stream is damaged or truncated after \(produced) decompressed bytes: \(archiveErrorString(archive))")
        }
        if n == 0 { ended = true }
        produced += n
        return n
    }
}

func archiveErrorString(_ a: OpaquePointer) -> String {
    archive_error_string(a).map { String(cString: $0) } ?? "unknown libarchive error"
}

/// libarchive 3.6 crashes on non-ASCII entry names in the "C" locale (libarchive#2233): switch
/// LC_CTYPE to C.UTF-8 once, before any libarchive call.
public func ensureUTF8Locale() {
    _ = utf8LocaleOnce
}

private let utf8LocaleOnce: Void = {
    _ = setlocale(LC_CTYPE, "C.UTF-8")
}()
