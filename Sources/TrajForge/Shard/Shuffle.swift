#if canImport(Glibc)
import Glibc
#endif

// The seeded shuffle. Record i (in input order, counting stored records only) gets the key
// mix(mix(i + mix(seed)) ^ seed), where mix is the splitmix64 finalizer: a bijection on 64-bit
// integers, so keys never tie. The shuffled order is the records sorted by key. That order does
// not depend on memory: pass 1 spills records into buckets by the key's top bits (temporary
// files), pass 2 reads bucket by bucket, splits any bucket too big for memory by the next bits,
// and sorts each in memory. Bucket count, budget and thread count change nothing in the output.

@inline(__always)
func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The sort key of record `index` under `seed`.
@inline(__always)
func shuffleKey(index: UInt64, seed: UInt64) -> UInt64 {
    mix64(mix64(index &+ mix64(seed)) ^ seed)
}

/// Where a stored record came from (for rejects found after the shuffle).
struct SpillOrigin: Sendable {
    var input: Int
    var line: Int
    var index: Int
    var offset: Int
}

/// Pass 1 and pass 2 of the shuffle over temporary files in `folder`.
final class ShuffleSpill {
    let folder: String
    let bits: Int
    let budget: Int
    var buffers: [[UInt8]]
    var fds: [Int32]
    var sizes: [Int]
    var serial = 0
    private(set) var records = 0

    /// `estimate`: expected bytes of all records (sizes the bucket count; any value is correct).
    init(folder: String, estimate: Int, budget: Int) throws(IOError) {
        self.folder = folder
        let budget = max(1 << 16, budget)
        self.budget = budget
        var b = 0
        while b < 8 && (estimate >> b) > budget / 2 { b += 1 }
        bits = b
        let count = 1 << b
        buffers = Array(repeating: [], count: count)
        fds = []
        sizes = Array(repeating: 0, count: count)
        for k in 0..<count {
            let fd = try ShuffleSpill.create(joinPath(folder, "bucket-\(k).bin"))
            fds.append(fd)
        }
    }

    deinit { for fd in fds where fd >= 0 { close(fd) } }

    static func create(_ path: String) throws(IOError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOError.errno(path, "cannot create shuffle bucket") }
        return fd
    }

    static func appendEntry(_ out: inout [UInt8], key: UInt64, origin: SpillOrigin, payload: ArraySlice<UInt8>) {
        appendUInt64(key, to: &out)
        appendUInt32(UInt32(payload.count), to: &out)
        appendUInt32(UInt32(truncatingIfNeeded: origin.input), to: &out)
        appendUInt64(UInt64(origin.line), to: &out)
        appendUInt64(UInt64(origin.index), to: &out)
        appendUInt64(UInt64(origin.offset), to: &out)
        out.append(contentsOf: payload)
    }

    static let entryHeader = 8 + 4 + 4 + 8 + 8 + 8

    /// Adds the next stored record (records are numbered in the order they are added).
    func add(_ payload: ArraySlice<UInt8>, origin: SpillOrigin, seed: UInt64) throws(IOError) {
        let key = shuffleKey(index: UInt64(records), seed: seed)
        records += 1
        let b = bits == 0 ? 0 : Int(key >> UInt64(64 - bits))
        ShuffleSpill.appendEntry(&buffers[b], key: key, origin: origin, payload: payload)
        if buffers[b].count >= 1 << 16 { try flush(b) }
    }

    private func flush(_ b: Int) throws(IOError) {
        let path = joinPath(folder, "bucket-\(b).bin")
        let result: Result<Void, IOError> = buffers[b].withUnsafeBytes { raw in
            do throws(IOError) { return .success(try writeAll(fds[b], raw, path: path)) } catch { return .failure(error) }
        }
        try result.get()
        sizes[b] += buffers[b].count
        buffers[b].removeAll(keepingCapacity: true)
    }

    /// Pass 2: calls `body` for every record in shuffled order.
    func replay(_ body: (_ payload: ArraySlice<UInt8>, _ origin: SpillOrigin) throws -> Void) throws {
        for b in 0..<buffers.count { try flush(b) }
        for fd in fds { close(fd) }
        fds = []
        for b in 0..<buffers.count {
            let path = joinPath(folder, "bucket-\(b).bin")
            try replayFile(path, size: sizes[b], usedBits: bits, body)
            unlink(path)
        }
    }

    private func replayFile(_ path: String, size: Int, usedBits: Int,
                            _ body: (_ payload: ArraySlice<UInt8>, _ origin: SpillOrigin) throws -> Void) throws
    {
        if size > budget && usedBits < 56 {
            // Too big for memory: split by the next 4 bits of the key, then each part in turn.
            let parts = 16
            var paths: [String] = []
            var fds: [Int32] = []
            var partSizes = Array(repeating: 0, count: parts)
            serial += 1
            for k in 0..<parts {
                let p = joinPath(folder, "split-\(serial)-\(k).bin")
                paths.append(p)
                fds.append(try ShuffleSpill.create(p))
            }
            defer { for fd in fds { close(fd) } }
            var outs = Array(repeating: [UInt8](), count: parts)
            try forEachEntry(path) { key, origin, payload in
                let k = Int((key << UInt64(usedBits)) >> 60)
                ShuffleSpill.appendEntry(&outs[k], key: key, origin: origin, payload: payload)
                if outs[k].count >= 1 << 16 {
                    try outs[k].withUnsafeBytes { try writeAll(fds[k], $0, path: paths[k]) }
                    partSizes[k] += outs[k].count
                    outs[k].removeAll(keepingCapacity: true)
                }
            }
            for k in 0..<parts {
                try outs[k].withUnsafeBytes { try writeAll(fds[k], $0, path: paths[k]) }
                partSizes[k] += outs[k].count
            }
            unlink(path)
            for k in 0..<parts {
                try replayFile(paths[k], size: partSizes[k], usedBits: usedBits + 4, body)
                unlink(paths[k])
            }
            return
        }
        guard let bytes = try readWholeFile(path) else { return }
        var entries: [(key: UInt64, start: Int)] = []
        var at = 0
        while at < bytes.count {
            entries.append((readUInt64(bytes, at), at))
            at += ShuffleSpill.entryHeader + readUInt32(bytes, at + 8)
        }
        entries.sort { $0.key < $1.key }
        for e in entries {
            let (origin, payload) = ShuffleSpill.entry(bytes, at: e.start)
            try body(payload, origin)
        }
    }

    /// Streams the entries of a bucket file without holding it whole.
    private func forEachEntry(_ path: String, _ body: (UInt64, SpillOrigin, ArraySlice<UInt8>) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError.errno(path, "cannot open shuffle bucket") }
        defer { close(fd) }
        let source = DescriptorSource(fd: fd, path: path)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var eof = false
        while !eof || !pending.isEmpty {
            if !eof {
                let n = try source.read(into: &chunk)
                if n == 0 { eof = true } else { pending.append(contentsOf: chunk[0..<n]) }
            }
            var at = 0
            while pending.count - at >= ShuffleSpill.entryHeader {
                let length = ShuffleSpill.entryHeader + readUInt32(pending, at + 8)
                guard pending.count - at >= length else { break }
                let (origin, payload) = ShuffleSpill.entry(pending, at: at)
                try body(readUInt64(pending, at), origin, payload)
                at += length
            }
            pending.removeSubrange(0..<at)
            if eof && !pending.isEmpty { throw IOError(.corrupt, path: path, "shuffle bucket ends inside an entry") }
        }
    }

    static func entry(_ b: [UInt8], at: Int) -> (SpillOrigin, ArraySlice<UInt8>) {
        let length = readUInt32(b, at + 8)
        let origin = SpillOrigin(input: readUInt32(b, at + 12), line: Int(readUInt64(b, at + 16)), index: Int(readUInt64(b, at + 24)),
                                 offset: Int(readUInt64(b, at + 32)))
        let start = at + entryHeader
        return (origin, b[start..<(start + length)])
    }
}

/// Reads a file descriptor (not owned).
final class DescriptorSource: ByteSource {
    let fd: Int32
    let path: String
    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw IOError.errno(path, "read failed")
        }
    }
}

@inline(__always)
func appendUInt64(_ v: UInt64, to out: inout [UInt8]) {
    for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
}

@inline(__always)
func readUInt64(_ b: [UInt8], _ at: Int) -> UInt64 {
    var v: UInt64 = 0
    for k in 0..<8 { v |= UInt64(b[at + k]) << (8 * UInt64(k)) }
    return v
}
