import ByteJSON
import Crypto

#if canImport(Glibc)
import Glibc
#endif

// Inputs of `shard`: records read the way every stage reads them (JSONL, JSON array, one document;
// compression by magic bytes), while the raw bytes are hashed on the way for the manifest's input
// fingerprints, so an input is read once.

/// Hashes the bytes read through it.
final class HashingSource: ByteSource {
    let inner: ByteSource
    var sha = SHA256()
    private(set) var count = 0

    init(_ inner: ByteSource) { self.inner = inner }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int {
        let n = try inner.read(into: buffer)
        if n > 0 {
            sha.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            count += n
        }
        return n
    }

    /// Reads (and hashes) whatever the record reader left unread.
    func drain() throws(IOError) {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while try read(into: &chunk) > 0 {}
    }

    var sha256Hex: String { hexString(sha.finalize()) }
}

/// An input file's fingerprint: its size and the SHA-256 of its bytes as stored.
public struct InputFingerprint: Sendable, Equatable {
    public var path: String
    public var bytes: Int
    public var sha256: String

    public var json: JSON {
        .object(["path": .string(path), "bytes": .number(JSONNumber(bytes)), "sha256": .string(sha256)])
    }

    init?(json: JSON) {
        guard let path = json["path"]?.string, let bytes = json["bytes"]?.int, let sha = json["sha256"]?.string else { return nil }
        self.path = path
        self.bytes = bytes
        self.sha256 = sha
    }

    init(path: String, bytes: Int, sha256: String) {
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// A record reader over `raw` (decompressed by magic bytes, container sniffed) as `openRecords` does.
func openRecordStream(raw: ByteSource, name: String, limits: ReaderLimits) throws(IOError) -> (reader: RecordReader?, description: String) {
    let head = try raw.readUpTo(8)
    let compression = Compression.sniff(head)
    let replayRaw = PrefixedSource(prefix: head, rest: raw)
    let source: ByteSource
    switch compression {
    case .none: source = replayRaw
    case .gzip: source = try GzipSource(replayRaw, path: name)
    default: source = try ArchiveFilterSource(replayRaw, path: name, compression: compression)
    }
    let (first, damage) = try source.readHead(1 << 20)
    let replay = PrefixedSource(prefix: first, rest: source, pendingError: damage)
    var container = Container.sniff(first)
    if container == .empty, damage != nil { container = .jsonl }
    let reader: RecordReader?
    switch container {
    case .empty: reader = nil
    case .jsonl: reader = JSONLReader(source: replay, file: name, limits: limits)
    case .array: reader = JSONContainerReader(source: replay, file: name, shape: .array, limits: limits)
    case .document: reader = WholeDocumentReader(source: replay, file: name, limits: limits)
    }
    var description = "\(name == "-" ? "stdin" : name): \(container.rawValue)"
    if compression != .none { description += ", \(compression.rawValue)-compressed" }
    return (reader, description)
}
