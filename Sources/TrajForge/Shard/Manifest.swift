import ByteJSON

// manifest.json (schemas/manifest.schema.json): what a shard set holds and how it was made. It is
// written last, atomically, and holds no timestamps, so the same input and options give the same
// bytes whatever the thread count.

/// One shard file as the manifest lists it.
public struct ShardEntry: Sendable, Equatable {
    public var file: String
    public var records: Int
    public var uncompressedBytes: Int
    public var compressedBytes: Int
    public var sha256: String

    public init(file: String, records: Int, uncompressedBytes: Int, compressedBytes: Int, sha256: String) {
        self.file = file
        self.records = records
        self.uncompressedBytes = uncompressedBytes
        self.compressedBytes = compressedBytes
        self.sha256 = sha256
    }

    var json: JSON {
        .object(["file": .string(file), "records": .number(JSONNumber(records)),
                 "uncompressed_bytes": .number(JSONNumber(uncompressedBytes)), "compressed_bytes": .number(JSONNumber(compressedBytes)),
                 "sha256": .string(sha256)])
    }

    init?(json: JSON) {
        guard let file = json["file"]?.string, let records = json["records"]?.int, let u = json["uncompressed_bytes"]?.int,
              let c = json["compressed_bytes"]?.int, let sha = json["sha256"]?.string
        else { return nil }
        self.init(file: file, records: records, uncompressedBytes: u, compressedBytes: c, sha256: sha)
    }
}

public struct ShardManifest: Sendable, Equatable {
    public static let fileName = "manifest.json"
    public static let version = 1

    public var format: ShardFormat
    public var codec: ShardCodec
    public var level: Int?
    public var split: String
    public var shards: [ShardEntry]
    /// The options that decided the bytes (`ShardOptions.manifestJSON`).
    public var options: JSON
    public var inputs: [InputFingerprint]
    public var trajforgeVersion: String
    /// The ledger of the run that wrote the set.
    public var ledger: JSON
    /// WebDataset / JSONL: the shard names in brace notation (`train-{000000..000011}.tar.zst`).
    public var urls: String?
    /// MDS: declared column order (cat writes records back in this order).
    public var columns: [MDSColumn]?

    public var totalRecords: Int { shards.reduce(0) { $0 + $1.records } }
    public var totalUncompressedBytes: Int { shards.reduce(0) { $0 + $1.uncompressedBytes } }
    public var totalCompressedBytes: Int { shards.reduce(0) { $0 + $1.compressedBytes } }

    public var json: JSON {
        var o = JSONObject()
        o["manifest_version"] = .number(JSONNumber(ShardManifest.version))
        o["trajforge_version"] = .string(trajforgeVersion)
        o["command"] = "trajforge shard"
        o["format"] = .string(format.rawValue)
        o["compression"] = .string(codec.rawValue)
        o["level"] = level.map { .number(JSONNumber($0)) } ?? .null
        o["split"] = .string(split)
        if let urls { o["urls"] = .string(urls) }
        if format == .mds { o["index"] = "index.json" }
        o["totals"] = .object(["shards": .number(JSONNumber(shards.count)), "records": .number(JSONNumber(totalRecords)),
                               "uncompressed_bytes": .number(JSONNumber(totalUncompressedBytes)),
                               "compressed_bytes": .number(JSONNumber(totalCompressedBytes))])
        o["shards"] = .array(shards.map(\.json))
        o["options"] = options
        o["inputs"] = .array(inputs.map(\.json))
        o["ledger"] = ledger
        return .object(o)
    }

    public var bytes: [UInt8] { json.serializedBytes(.pretty) + [0x0A] }

    /// Reads a manifest; the message says what is wrong.
    public static func parse(_ bytes: [UInt8]) throws(ShardManifestError) -> ShardManifest {
        let value: JSON
        do { value = try JSON.parse(bytes) } catch { throw ShardManifestError("manifest.json is not valid JSON: \(error)") }
        guard case .object(let o) = value else { throw ShardManifestError("manifest.json is not a JSON object") }
        guard o["manifest_version"]?.int == ShardManifest.version else {
            throw ShardManifestError("manifest.json has manifest_version \(o["manifest_version"]?.description ?? "missing"); this trajforge reads version \(ShardManifest.version)")
        }
        guard let f = o["format"]?.string, let format = ShardFormat(rawValue: f) else { throw ShardManifestError("manifest.json: missing or unknown \"format\"") }
        guard let c = o["compression"]?.string, let codec = ShardCodec(rawValue: c) else { throw ShardManifestError("manifest.json: missing or unknown \"compression\"") }
        guard case .array(let list)? = o["shards"] else { throw ShardManifestError("manifest.json: \"shards\" is missing or not a list") }
        var shards: [ShardEntry] = []
        for (k, item) in list.enumerated() {
            guard let entry = ShardEntry(json: item) else { throw ShardManifestError("manifest.json: shards[\(k)] lacks file, records, uncompressed_bytes, compressed_bytes or sha256") }
            guard !entry.file.contains("/"), entry.file != "..", !entry.file.isEmpty else {
                throw ShardManifestError("manifest.json: shards[\(k)].file \"\(entry.file)\" is not a plain file name")
            }
            shards.append(entry)
        }
        var inputs: [InputFingerprint] = []
        if case .array(let list)? = o["inputs"] { inputs = list.compactMap(InputFingerprint.init(json:)) }
        let options = o["options"] ?? .null
        var columns: [MDSColumn]?
        if case .array(let cols)? = options["columns"] {
            columns = cols.compactMap { c in
                guard let name = c["name"]?.string, let enc = c["encoding"]?.string.flatMap(MDSEncoding.parse) else { return nil }
                return MDSColumn(name: name, encoding: enc)
            }
        }
        return ShardManifest(format: format, codec: codec, level: o["level"]?.int, split: o["split"]?.string ?? "", shards: shards,
                             options: options, inputs: inputs, trajforgeVersion: o["trajforge_version"]?.string ?? "",
                             ledger: o["ledger"] ?? .null, urls: o["urls"]?.string, columns: columns)
    }
}

public struct ShardManifestError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Shard file names per format.
enum ShardNaming {
    static func fileName(format: ShardFormat, codec: ShardCodec, prefix: String, index: Int, count: Int) -> String {
        switch format {
        case .jsonl:
            let digits = max(5, String(count).count)
            return "\(prefix)-\(String(index, digits: digits))-of-\(String(count, digits: digits)).jsonl" + suffix(codec, mds: false)
        case .webdataset:
            return "\(prefix)-\(String(index, digits: max(6, String(count - 1).count))).tar" + suffix(codec, mds: false)
        case .mds:
            return MDSLayout.shardBasename(index) + suffix(codec, mds: true)
        }
    }

    static func suffix(_ codec: ShardCodec, mds: Bool) -> String {
        switch codec {
        case .none: ""
        case .gzip: ".gz"
        case .zstd: mds ? ".zstd" : ".zst"
        }
    }

    /// Brace notation for the whole set (`train-{000000..000011}.tar.zst`), as WebDataset and
    /// `braceexpand` read it; nil for MDS (its index lists the files).
    static func braceURLs(format: ShardFormat, codec: ShardCodec, prefix: String, count: Int) -> String? {
        guard count > 0, format != .mds else { return nil }
        let first = fileName(format: format, codec: codec, prefix: prefix, index: 0, count: count)
        if count == 1 { return first }
        switch format {
        case .jsonl:
            let digits = max(5, String(count).count)
            return "\(prefix)-{\(String(0, digits: digits))..\(String(count - 1, digits: digits))}-of-\(String(count, digits: digits)).jsonl" + suffix(codec, mds: false)
        case .webdataset:
            let digits = max(6, String(count - 1).count)
            return "\(prefix)-{\(String(0, digits: digits))..\(String(count - 1, digits: digits))}.tar" + suffix(codec, mds: false)
        case .mds:
            return nil
        }
    }
}
