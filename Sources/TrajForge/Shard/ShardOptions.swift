import ByteJSON

// What `trajforge shard` can write and how: the three container formats, their compression, size
// limits, the seeded shuffle, WebDataset members and MDS columns.

/// The container a shard set is written in.
public enum ShardFormat: String, Sendable, CaseIterable {
    /// JSON Lines, one record per line: `name-00000-of-00012.jsonl.gz`.
    case jsonl
    /// WebDataset tar: one sample = `<key>.json` (+ extra members): `name-000000.tar.zst`.
    case webdataset
    /// MosaicML streaming MDS v2: `shard.00000.mds.zstd` + `index.json`.
    case mds

    /// The codec used when none is asked for: gzip for JSONL (what every reader accepts), zstd for
    /// tar and MDS (8x faster than gzip at about the same ratio).
    public var defaultCodec: ShardCodec { self == .jsonl ? .gzip : .zstd }
}

/// Whole-file compression of a shard.
public enum ShardCodec: String, Sendable, CaseIterable {
    case none, gzip, zstd

    /// Valid levels: gzip 0-9 (zlib), zstd 1-22.
    public var levels: ClosedRange<Int>? {
        switch self {
        case .none: nil
        case .gzip: 0...9
        case .zstd: 1...22
        }
    }
}

/// An extra WebDataset member: `<key>.<ext>` holding the record's field `field` (a string as its
/// UTF-8 text, anything else as compact JSON). The whole record is always the `<key>.json` member.
public struct WebDatasetMember: Sendable, Equatable {
    public var ext: String
    public var field: String

    public init(ext: String, field: String) {
        self.ext = ext
        self.field = field
    }

    /// Parses `EXT=FIELD` (or just `FIELD`, which uses the field name as the extension).
    public static func parse(_ text: String) throws(ShardOptionError) -> WebDatasetMember {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let member = parts.count == 2 ? WebDatasetMember(ext: parts[0], field: parts[1]) : WebDatasetMember(ext: text, field: text)
        try member.validate()
        return member
    }

    func validate() throws(ShardOptionError) {
        guard !field.isEmpty else { throw ShardOptionError("--member \(ext)=: the field name is empty") }
        // WebDataset lower-cases extensions when it groups members: allow lower case only.
        guard !ext.isEmpty, ext.utf8.count <= 40, ext.utf8.first != UInt8(ascii: "."), ext.utf8.last != UInt8(ascii: "."),
              ext.utf8.allSatisfy({ (isKeyByte($0) && !($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))) || $0 == UInt8(ascii: ".") })
        else {
            throw ShardOptionError("--member \(ext)=\(field): the extension must be 1-40 characters of a-z 0-9 _ - . (not starting or ending with '.')")
        }
        guard ext != "json" else { throw ShardOptionError("--member json=…: the record itself is always the .json member; pick another extension") }
    }
}

/// A byte of a WebDataset key: A-Z a-z 0-9 _ -. WebDataset splits a member name at its first dot
/// (so keys cannot hold dots), and tar names stay plain ASCII.
@inline(__always)
func isKeyByte(_ b: UInt8) -> Bool {
    (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
        || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
}

/// A usage error in shard options (exit status 64 in the CLI).
public struct ShardOptionError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Everything that decides the bytes of a shard set. Options that cannot change the output
/// (threads, resume, the temporary folder) are not part of `manifestJSON`.
public struct ShardOptions: Sendable {
    public var format: ShardFormat = .jsonl
    /// nil: the format's default codec.
    public var codec: ShardCodec?
    /// nil: the codec's default (gzip 6, zstd 3; MDS `gz` without a level means 9, as in mosaicml-streaming).
    public var level: Int?
    /// A shard closes before a record that would take it over this many uncompressed bytes (MDS:
    /// mosaicml-streaming's `size_limit` rule, headers included). Must be below 2^32.
    public var maxShardBytes: Int = 1 << 26
    /// A shard closes once it holds this many records (nil: no limit).
    public var maxShardRecords: Int?
    /// Shuffle the records (seeded, deterministic) before sharding.
    public var shuffle = false
    public var seed: UInt64 = 0
    /// The split the shards belong to (recorded in the manifest; the default file-name prefix).
    public var split = "train"
    /// File-name prefix for JSONL and WebDataset shards (default: the split).
    public var name: String?
    /// WebDataset: take each sample's key from this string field (default: the sample's position).
    public var keyField: String?
    /// WebDataset: extra members per sample.
    public var members: [WebDatasetMember] = []
    /// MDS: the columns (nil: every top-level key of the first record, encoded as json).
    public var columns: [MDSColumn]?
    /// MDS: hash algorithms for `index.json` (sorted, as mosaicml-streaming requires).
    public var mdsHashes: [String] = ["sha256"]
    /// Worker threads (parsing and compression). Output is identical for any value.
    public var threads = 1
    public var limits = ReaderLimits()
    /// Reuse shards of an unfinished (or finished) run whose manifest entries verify.
    public var resume = false
    /// Replace a shard set already in the output folder.
    public var overwrite = false
    /// Where shuffle buckets go (default: inside the output folder's `.trajforge-partial`).
    public var temporaryFolder: String?
    /// Memory for one shuffle bucket; bigger buckets are split again (the order does not change).
    public var shuffleBucketBytes = 256 << 20
    /// Names the manifest gives the inputs instead of their paths (`trajforge run` uses paths
    /// relative to its output folder, so moving the folder changes nothing).
    public var inputLabels: [String]?

    public init() {}

    public var effectiveCodec: ShardCodec { codec ?? format.defaultCodec }
    public var prefix: String { name ?? split }

    /// The level actually used by the compressor.
    public var effectiveLevel: Int? {
        switch effectiveCodec {
        case .none: nil
        case .gzip: level ?? (format == .mds ? 9 : 6)
        case .zstd: level ?? 3
        }
    }

    public func validate() throws(ShardOptionError) {
        if let level {
            guard let range = effectiveCodec.levels else { throw ShardOptionError("--level needs a codec (gzip or zstd), not none") }
            guard range.contains(level) else {
                throw ShardOptionError("--level \(level) is out of range for \(effectiveCodec.rawValue) (\(range.lowerBound)-\(range.upperBound))")
            }
        }
        guard maxShardBytes > 0, maxShardBytes < 1 << 32 else {
            throw ShardOptionError("--max-shard-bytes must be between 1 and 4294967295 (MDS stores offsets as uint32; a shard is held in memory while it is compressed)")
        }
        if let maxShardRecords, maxShardRecords < 1 { throw ShardOptionError("--max-shard-records must be at least 1") }
        guard threads >= 1 else { throw ShardOptionError("--threads must be at least 1") }
        guard !split.isEmpty, split.utf8.allSatisfy({ isKeyByte($0) || $0 == UInt8(ascii: ".") }) else {
            throw ShardOptionError("--split must be letters, digits, '_', '-' or '.' (got \(split))")
        }
        if let name {
            guard !name.isEmpty, name.utf8.allSatisfy({ isKeyByte($0) || $0 == UInt8(ascii: ".") }) else {
                throw ShardOptionError("--name must be letters, digits, '_', '-' or '.' (got \(name))")
            }
        }
        if format != .webdataset {
            if keyField != nil { throw ShardOptionError("--key-field applies to --format webdataset only") }
            if !members.isEmpty { throw ShardOptionError("--member applies to --format webdataset only") }
        }
        for m in members { try m.validate() }
        if Set(members.map(\.ext)).count != members.count { throw ShardOptionError("--member: two members have the same extension") }
        if format != .mds {
            if columns != nil { throw ShardOptionError("--column applies to --format mds only") }
        }
        if let columns {
            guard !columns.isEmpty else { throw ShardOptionError("--column: give at least one column") }
            if Set(columns.map(\.name)).count != columns.count { throw ShardOptionError("--column: two columns have the same name") }
        }
        for h in mdsHashes where !MDSHash.supported.contains(h) {
            throw ShardOptionError("--mds-hash \(h) is not supported (use \(MDSHash.supported.joined(separator: ", ")))")
        }
        if mdsHashes != mdsHashes.sorted() || Set(mdsHashes).count != mdsHashes.count {
            throw ShardOptionError("--mds-hash: list each algorithm once, in sorted order (mosaicml-streaming requires it)")
        }
    }

    /// MDS `compression` string: nil, "zstd", "zstd:7", "gz", "gz:6".
    var mdsCompression: String? {
        switch effectiveCodec {
        case .none: return nil
        case .gzip: return level.map { "gz:\($0)" } ?? "gz"
        case .zstd: return level.map { "zstd:\($0)" } ?? "zstd"
        }
    }

    /// The options as recorded in the manifest: everything that decides the output bytes.
    public func manifestJSON(columns resolved: [MDSColumn]?) -> JSON {
        var o = JSONObject()
        o["format"] = .string(format.rawValue)
        o["compression"] = .string(effectiveCodec.rawValue)
        o["level"] = effectiveLevel.map { .number(JSONNumber($0)) } ?? .null
        o["max_shard_bytes"] = .number(JSONNumber(maxShardBytes))
        o["max_shard_records"] = maxShardRecords.map { .number(JSONNumber($0)) } ?? .null
        o["shuffle"] = .bool(shuffle)
        o["seed"] = shuffle ? .number(JSONNumber(unchecked: String(seed))) : .null
        o["split"] = .string(split)
        o["name"] = .string(prefix)
        o["max_record_bytes"] = .number(JSONNumber(limits.maxRecordBytes))
        if format == .webdataset {
            o["key_field"] = keyField.map(JSON.string) ?? .null
            o["members"] = .array(members.map { .object(["ext": .string($0.ext), "field": .string($0.field)]) })
        }
        if format == .mds {
            o["columns"] = .array((resolved ?? columns ?? []).map { .object(["name": .string($0.name), "encoding": .string($0.encoding.text)]) })
            o["mds_hashes"] = .array(mdsHashes.map(JSON.string))
        }
        return .object(o)
    }
}

/// Parses a byte size: `65536`, `64MiB`, `100MB`, `1.5GB`, `512k` (k/M/G = 1000^n, KiB/MiB/GiB = 1024^n).
public func parseByteSize(_ text: String) -> Int? {
    let t = text.trimmingCharacters(in: " ")
    var split = t.startIndex
    while split < t.endIndex, t[split].isNumber || t[split] == "." { split = t.index(after: split) }
    guard let number = Double(t[..<split]), number >= 0 else { return nil }
    let unit = t[split...].lowercased().trimmingCharacters(in: " ")
    let scale: Double
    switch unit {
    case "", "b": scale = 1
    case "k", "kb": scale = 1e3
    case "m", "mb": scale = 1e6
    case "g", "gb": scale = 1e9
    case "kib": scale = 1024
    case "mib": scale = 1024 * 1024
    case "gib": scale = 1024 * 1024 * 1024
    default: return nil
    }
    let value = (number * scale).rounded()
    guard value < 9e18 else { return nil }
    return Int(value)
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
