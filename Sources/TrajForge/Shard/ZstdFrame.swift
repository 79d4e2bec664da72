#if canImport(Glibc)
import Glibc
#endif

// zstd for shards, with the uncompressed size in the frame header.
//
// libarchive's zstd filter (what `ZstdSink` uses) streams frames without a content size.
// mosaicml-streaming decompresses shards with the `zstd` Python package's one-shot
// `zstd.decompress`, which refuses such frames ("length mismatch -> decomp 0 != 131072"), so MDS
// shards need the size in the header, as one-shot `ZSTD_compress` writes it. libzstd.so.1 is always
// present where libarchive is (Debian's libarchive13 depends on libzstd1), but its headers are not
// (libzstd-dev), so the few stable entry points are looked up at run time. Every shard format uses
// this sink. A shard compressed while it is still being read streams the frame and fills the size
// field in at the end (see `ZstdFrameSink`).

final class ZstdLibrary: @unchecked Sendable {
    typealias CreateCCtx = @convention(c) () -> OpaquePointer?
    typealias FreeCCtx = @convention(c) (OpaquePointer?) -> Int
    typealias SetParameter = @convention(c) (OpaquePointer?, Int32, Int32) -> Int
    typealias SetPledgedSrcSize = @convention(c) (OpaquePointer?, UInt64) -> Int
    typealias CompressStream2 = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer, UnsafeMutableRawPointer, Int32) -> Int
    typealias IsError = @convention(c) (Int) -> UInt32
    typealias GetErrorName = @convention(c) (Int) -> UnsafePointer<CChar>?
    typealias VersionNumber = @convention(c) () -> UInt32

    let createCCtx: CreateCCtx
    let freeCCtx: FreeCCtx
    let setParameter: SetParameter
    let setPledgedSrcSize: SetPledgedSrcSize
    let compressStream2: CompressStream2
    let isError: IsError
    let errorName: GetErrorName
    let version: UInt32

    // zstd.h constants (stable since 1.4).
    static let compressionLevel: Int32 = 100
    static let continueOp: Int32 = 0
    static let endOp: Int32 = 2

    static let shared: Result<ZstdLibrary, IOError> = {
        for name in ["libzstd.so.1", "libzstd.so"] {
            if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL), let lib = ZstdLibrary(handle) { return .success(lib) }
        }
        return .failure(IOError(path: "libzstd.so.1", "cannot load libzstd (install libzstd1; libarchive13 depends on it)"))
    }()

    private init?(_ h: UnsafeMutableRawPointer) {
        func sym<T>(_ name: String, _: T.Type) -> T? { dlsym(h, name).map { unsafeBitCast($0, to: T.self) } }
        guard let a = sym("ZSTD_createCCtx", CreateCCtx.self), let b = sym("ZSTD_freeCCtx", FreeCCtx.self),
              let c = sym("ZSTD_CCtx_setParameter", SetParameter.self), let d = sym("ZSTD_CCtx_setPledgedSrcSize", SetPledgedSrcSize.self),
              let e = sym("ZSTD_compressStream2", CompressStream2.self), let f = sym("ZSTD_isError", IsError.self),
              let g = sym("ZSTD_getErrorName", GetErrorName.self), let v = sym("ZSTD_versionNumber", VersionNumber.self)
        else { return nil }
        createCCtx = a
        freeCCtx = b
        setParameter = c
        setPledgedSrcSize = d
        compressStream2 = e
        isError = f
        errorName = g
        version = v()
    }

    func check(_ rc: Int, _ path: String, _ what: String) throws(IOError) {
        if isError(rc) != 0 {
            throw IOError(path: path, "zstd \(what) failed: \(errorName(rc).map { String(cString: $0) } ?? "error \(rc)")")
        }
    }

    /// "1.5.4"
    var versionString: String { "\(version / 10000).\(version / 100 % 100).\(version % 100)" }
}

/// A sink whose bytes already written can be overwritten (a shard file, or memory in tests): a
/// streamed zstd frame's content size is known only when the frame ends.
protocol PatchableSink: ByteSink {
    /// Bytes written so far.
    var count: Int { get }
    /// Overwrites `bytes.count` bytes at `offset` (< `count`); hashes cover the patched bytes.
    func patch(_ bytes: [UInt8], at offset: Int) throws(IOError)
}

/// One zstd frame, with its uncompressed size in the frame header.
///
/// With `size` (a closed shard) the size is pledged and zstd writes the header itself. Without it
/// (a shard still being read, compressed as its records arrive) the frame is compressed as a
/// stream: zstd's header for an unknown size (magic, descriptor, window) goes out with an 8-byte
/// content-size field added, and `finish` fills the field in. The blocks are zstd's own either way.
final class ZstdFrameSink: ByteSink {
    /// Shards smaller than this are compressed once closed, with the size pledged: zstd then fits
    /// its window and tables to the size (a small shard would otherwise pay for full-size tables).
    /// Larger ones stream. Which applies depends only on the shard's bytes, never on timing.
    static let streamingThreshold = 4 << 20

    let next: ByteSink
    let path: String
    let lib: ZstdLibrary
    let cctx: OpaquePointer
    // ZSTD_inBuffer / ZSTD_outBuffer: { pointer, size_t size, size_t pos }.
    let inBuffer = UnsafeMutablePointer<UInt>.allocate(capacity: 3)
    let outBuffer = UnsafeMutablePointer<UInt>.allocate(capacity: 3)
    var out = [UInt8](repeating: 0, count: 1 << 17)
    /// The pledged size; nil for a streamed frame.
    let expected: Int?
    var received = 0
    /// Streamed frame: where the frame starts in `next`, and zstd's header bytes not yet passed on
    /// (nil once the rewritten header is out).
    let patchable: PatchableSink?
    let frameStart: Int
    private var header: [UInt8]? = []

    /// zstd's header for a frame of unknown size: magic, descriptor 0 (no size field, not single
    /// segment, no checksum, no dictionary), window descriptor.
    static let streamedHeaderBytes = 6
    /// The content-size field sits after magic, descriptor and window descriptor.
    static let sizeFieldOffset = 6

    init(next: ByteSink, path: String, level: Int, size: Int?) throws(IOError) {
        self.next = next
        self.path = path
        expected = size
        if size == nil {
            guard let p = next as? PatchableSink else {
                throw IOError(path: path, "internal error: a zstd frame of unknown size needs a sink that can be patched")
            }
            patchable = p
            frameStart = p.count
        } else {
            patchable = nil
            frameStart = 0
            header = nil
        }
        lib = try ZstdLibrary.shared.get()
        guard let cctx = lib.createCCtx() else {
            inBuffer.deallocate()
            outBuffer.deallocate()
            throw IOError(path: path, "zstd: cannot create a compression context")
        }
        self.cctx = cctx
        try lib.check(lib.setParameter(cctx, ZstdLibrary.compressionLevel, Int32(level)), path, "level \(level)")
        if let size { try lib.check(lib.setPledgedSrcSize(cctx, UInt64(size)), path, "size") }
    }

    deinit {
        _ = lib.freeCCtx(cctx)
        inBuffer.deallocate()
        outBuffer.deallocate()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        guard bytes.count > 0 else { return }
        received += bytes.count
        try pump(bytes, op: ZstdLibrary.continueOp)
    }

    func finish() throws(IOError) {
        if let expected, received != expected {
            throw IOError(path: path, "internal error: \(received) bytes were compressed, \(expected) were announced")
        }
        try pump(UnsafeRawBufferPointer(start: nil, count: 0), op: ZstdLibrary.endOp)
        if let patchable {
            guard header == nil else { throw IOError(path: path, "internal error: zstd ended the frame inside its header") }
            var size: [UInt8] = []
            var v = UInt64(received)
            for _ in 0..<8 {
                size.append(UInt8(truncatingIfNeeded: v))
                v >>= 8
            }
            try patchable.patch(size, at: frameStart + ZstdFrameSink.sizeFieldOffset)
        }
        try next.finish()
    }

    /// Passes compressed bytes on; a streamed frame's header gets its content-size field (zeros
    /// until `finish`).
    private func emit(_ bytes: ArraySlice<UInt8>) throws(IOError) {
        guard var pending = header else { return try next.write(bytes) }
        let take = min(ZstdFrameSink.streamedHeaderBytes - pending.count, bytes.count)
        pending.append(contentsOf: bytes.prefix(take))
        header = pending
        guard pending.count == ZstdFrameSink.streamedHeaderBytes else { return }
        guard pending.prefix(4).elementsEqual([0x28, 0xB5, 0x2F, 0xFD]), pending[4] == 0 else {
            throw IOError(path: path, "internal error: unexpected zstd frame header \(pending.map { String($0, radix: 16) })")
        }
        // Descriptor: size field of 8 bytes (flag 3), still not single segment.
        pending[4] = 0xC0
        pending += [UInt8](repeating: 0, count: 8)
        header = nil
        try next.write(pending[...])
        if take < bytes.count { try next.write(bytes[(bytes.startIndex + take)...]) }
    }

    private func pump(_ input: UnsafeRawBufferPointer, op: Int32) throws(IOError) {
        inBuffer[0] = UInt(bitPattern: input.baseAddress)
        inBuffer[1] = UInt(input.count)
        inBuffer[2] = 0
        while true {
            let (rc, produced) = out.withUnsafeMutableBytes { buf -> (Int, Int) in
                outBuffer[0] = UInt(bitPattern: buf.baseAddress)
                outBuffer[1] = UInt(buf.count)
                outBuffer[2] = 0
                let rc = lib.compressStream2(cctx, UnsafeMutableRawPointer(outBuffer), UnsafeMutableRawPointer(inBuffer), op)
                return (rc, Int(outBuffer[2]))
            }
            try lib.check(rc, path, "compression")
            if produced > 0 { try emit(out[0..<produced]) }
            if op == ZstdLibrary.endOp {
                if rc == 0 { return }  // the frame is complete
            } else if inBuffer[2] == inBuffer[1] && produced < out.count {
                return  // all input taken, nothing more to flush for now
            }
        }
    }
}
