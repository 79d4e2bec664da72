import ByteJSON
import Crypto

// MosaicML streaming MDS v2, byte for byte as `streaming.MDSWriter` (0.13) writes it:
//
//   shard = uint32 num_samples | uint32 offsets[num_samples + 1] | config JSON | samples
//   sample = uint32 size of each variable-size column | column bytes, columns in sorted name order
//   config = json.dumps({column_encodings, column_names, column_sizes, compression, format,
//                        hashes, size_limit, version}, sort_keys=True)
//   index.json = json.dump({"shards": [...], "version": 2}, sort_keys=True), written last
//
// All integers little-endian. A shard closes when `size_limit < shard_size + sample_size + 4`,
// where shard_size starts at 8 + len(config) (so, as in mosaicml-streaming, a first sample larger
// than the limit leaves an empty shard 0 before it).

/// How one MDS column stores a JSON value.
public enum MDSEncoding: Sendable, Equatable {
    /// `json.dumps(value)` (Python's default layout: `", "`, `": "`, ASCII-only escapes).
    case json
    /// A JSON string's UTF-8 bytes.
    case str
    /// A JSON string's UTF-8 bytes (read back as Python `bytes`).
    case bytes
    /// An integer as int64 (8 bytes).
    case int
    /// An integer as a fixed-size scalar (`int8` … `uint64`).
    case scalar(MDSIntType)
    /// A 1-D array of integers (token ids): `ndarray:int32` (any length ≥ 1) or `ndarray:int32:2048`.
    case ndarray(MDSIntType, length: Int?)

    /// The encoding as mosaicml-streaming names it.
    public var text: String {
        switch self {
        case .json: "json"
        case .str: "str"
        case .bytes: "bytes"
        case .int: "int"
        case .scalar(let t): t.rawValue
        case .ndarray(let t, let length): length.map { "ndarray:\(t.rawValue):\($0)" } ?? "ndarray:\(t.rawValue)"
        }
    }

    /// Fixed encoded size in bytes, or nil for variable-size columns.
    public var size: Int? {
        switch self {
        case .json, .str, .bytes: nil
        case .int: 8
        case .scalar(let t): t.width
        case .ndarray(let t, let length): length.map { $0 * t.width }
        }
    }

    public static func parse(_ text: String) -> MDSEncoding? {
        switch text {
        case "json": return .json
        case "str": return .str
        case "bytes": return .bytes
        case "int": return .int
        default: break
        }
        if let t = MDSIntType(rawValue: text) { return .scalar(t) }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.first == "ndarray", parts.count == 2 || parts.count == 3, let t = MDSIntType(rawValue: parts[1]) else { return nil }
        if parts.count == 3 {
            guard let n = Int(parts[2]), n >= 1 else { return nil }
            return .ndarray(t, length: n)
        }
        return .ndarray(t, length: nil)
    }

    public static let help = "json, str, bytes, int, int8…uint64, ndarray:<int type>[:<length>]"
}

/// Integer element types mosaicml-streaming's NDArray encoding knows (code = its dtype byte).
public enum MDSIntType: String, Sendable, CaseIterable {
    case uint8, int8, uint16, int16, uint32, int32, uint64, int64

    var width: Int {
        switch self {
        case .uint8, .int8: 1
        case .uint16, .int16: 2
        case .uint32, .int32: 4
        case .uint64, .int64: 8
        }
    }

    var signed: Bool { rawValue.hasPrefix("int") }

    /// Appends `v` little-endian; false when it does not fit.
    func append(_ text: String, to out: inout [UInt8]) -> Bool {
        if signed {
            guard let v = Int64(text) else { return false }
            let bits = width * 8
            if bits < 64 {
                let lo = -(Int64(1) << (bits - 1))
                let hi = (Int64(1) << (bits - 1)) - 1
                guard v >= lo, v <= hi else { return false }
            }
            var u = UInt64(bitPattern: v)
            for _ in 0..<width {
                out.append(UInt8(truncatingIfNeeded: u))
                u >>= 8
            }
        } else {
            guard let v = UInt64(text) else { return false }
            if width < 8, v >= UInt64(1) << (width * 8) { return false }
            var u = v
            for _ in 0..<width {
                out.append(UInt8(truncatingIfNeeded: u))
                u >>= 8
            }
        }
        return true
    }

    /// Reads one little-endian value as JSON number text.
    func read(_ bytes: ArraySlice<UInt8>) -> String {
        var u: UInt64 = 0
        for (k, b) in bytes.enumerated() { u |= UInt64(b) << (8 * UInt64(k)) }
        if signed {
            let bits = width * 8
            if bits < 64, u & (UInt64(1) << (bits - 1)) != 0 { u |= ~((UInt64(1) << bits) - 1) }
            return String(Int64(bitPattern: u))
        }
        return String(u)
    }
}

/// One declared MDS column.
public struct MDSColumn: Sendable, Equatable {
    public var name: String
    public var encoding: MDSEncoding

    public init(name: String, encoding: MDSEncoding) {
        self.name = name
        self.encoding = encoding
    }

    /// Parses `NAME:ENCODING` (`input_ids:ndarray:int32`) or a bare `NAME` (json).
    public static func parse(_ text: String) throws(ShardOptionError) -> MDSColumn {
        guard let colon = text.firstIndex(of: ":") else {
            guard !text.isEmpty else { throw ShardOptionError("--column: empty column name") }
            return MDSColumn(name: text, encoding: .json)
        }
        let name = String(text[..<colon])
        let enc = String(text[text.index(after: colon)...])
        guard !name.isEmpty else { throw ShardOptionError("--column \(text): empty column name") }
        guard let encoding = MDSEncoding.parse(enc) else {
            throw ShardOptionError("--column \(text): unknown encoding '\(enc)' (use \(MDSEncoding.help))")
        }
        return MDSColumn(name: name, encoding: encoding)
    }
}

/// Hash algorithms trajforge can write into an MDS index (names as Python's hashlib spells them).
enum MDSHash {
    static let supported = ["md5", "sha1", "sha256", "sha384", "sha512"]

    /// A running hash for one algorithm.
    enum Running {
        case md5(Insecure.MD5), sha1(Insecure.SHA1), sha256(SHA256), sha384(SHA384), sha512(SHA512)

        init(_ name: String) {
            switch name {
            case "md5": self = .md5(Insecure.MD5())
            case "sha1": self = .sha1(Insecure.SHA1())
            case "sha384": self = .sha384(SHA384())
            case "sha512": self = .sha512(SHA512())
            default: self = .sha256(SHA256())
            }
        }

        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            switch self {
            case .md5(var h): h.update(bufferPointer: bytes); self = .md5(h)
            case .sha1(var h): h.update(bufferPointer: bytes); self = .sha1(h)
            case .sha256(var h): h.update(bufferPointer: bytes); self = .sha256(h)
            case .sha384(var h): h.update(bufferPointer: bytes); self = .sha384(h)
            case .sha512(var h): h.update(bufferPointer: bytes); self = .sha512(h)
            }
        }

        func hex() -> String {
            switch self {
            case .md5(let h): hexString(h.finalize())
            case .sha1(let h): hexString(h.finalize())
            case .sha256(let h): hexString(h.finalize())
            case .sha384(let h): hexString(h.finalize())
            case .sha512(let h): hexString(h.finalize())
            }
        }
    }

    static func hex(_ name: String, of bytes: [UInt8]) -> String {
        var h = Running(name)
        bytes.withUnsafeBytes { h.update($0) }
        return h.hex()
    }
}

func hexString<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in digest {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

// MARK: - Python json.dumps

/// Writes `value` as Python's `json.dumps(json.loads(text))` would: `", "` and `": "`, non-ASCII
/// escaped, integers as Python ints, other numbers as `repr(float)`. Throws for a number that is
/// not finite as a float (Python would write `Infinity`, which is not JSON).
func writePythonJSON(_ value: JSON, into out: inout [UInt8]) throws(MDSValueError) {
    switch value {
    case .null: out.append(contentsOf: "null".utf8)
    case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
    case .number(let n): out.append(contentsOf: try pythonNumberText(n).utf8)
    case .string(let s): appendASCIIString(s, into: &out)
    case .array(let items):
        out.append(UInt8(ascii: "["))
        for (k, item) in items.enumerated() {
            if k > 0 { out.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
            try writePythonJSON(item, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    case .object(let o):
        out.append(UInt8(ascii: "{"))
        for (k, m) in o.members.enumerated() {
            if k > 0 { out.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
            appendASCIIString(m.key, into: &out)
            out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
            try writePythonJSON(m.value, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// A quoted string as Python's `json.dumps(ensure_ascii=True)` writes it (what
/// `JSONWriter.appendString(_:asciiOnly: true)` writes, in runs instead of byte by byte).
func appendASCIIString(_ s: String, into out: inout [UInt8]) {
    var s = s
    s.withUTF8 { b in
        out.reserveCapacity(out.count + b.count + 2)
        out.append(UInt8(ascii: "\""))
        var run = 0
        var i = 0
        let n = b.count
        func u(_ v: UInt32) {
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), hexDigits[Int(v >> 12 & 0xF)], hexDigits[Int(v >> 8 & 0xF)],
                                    hexDigits[Int(v >> 4 & 0xF)], hexDigits[Int(v & 0xF)]])
        }
        while i < n {
            let c = b[i]
            if c >= 0x20 && c < 0x80 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            if i > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<i])) }
            if c >= 0x80 {
                var v: UInt32
                let len: Int
                if c < 0xE0 {
                    v = UInt32(c & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F)
                    len = 2
                } else if c < 0xF0 {
                    v = UInt32(c & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F)
                    len = 3
                } else {
                    v = UInt32(c & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6 | UInt32(b[i + 3] & 0x3F)
                    len = 4
                }
                if v >= 0x10000 {
                    v -= 0x10000
                    u(0xD800 + (v >> 10))
                    u(0xDC00 + (v & 0x3FF))
                } else {
                    u(v)
                }
                i += len
            } else {
                switch c {
                case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
                case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
                default: u(UInt32(c))
                }
                i += 1
            }
            run = i
        }
        if n > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<n])) }
        out.append(UInt8(ascii: "\""))
    }
}

func pythonNumberText(_ n: JSONNumber) throws(MDSValueError) -> String {
    if n.isInteger { return n.text == "-0" ? "0" : n.text }
    guard let d = n.double, d.isFinite else { throw MDSValueError("the number \(n.text) does not fit a 64-bit float") }
    return PythonFloat.repr(d)
}

/// Why a record's value cannot go into its MDS column.
struct MDSValueError: Error {
    var message: String
    var missing = false
    init(_ message: String, missing: Bool = false) {
        self.message = message
        self.missing = missing
    }
}

// MARK: - Encoding samples and shards

/// The column layout of an MDS shard set, in mosaicml-streaming's (sorted) order.
struct MDSLayout: Sendable {
    /// Declared order (what `cat` writes back).
    let declared: [MDSColumn]
    /// Sorted by name (UTF-8 byte order = Python's code point order).
    let sorted: [MDSColumn]
    let config: [UInt8]
    let compression: String?
    let hashes: [String]
    let sizeLimit: Int?

    init(columns: [MDSColumn], compression: String?, hashes: [String], sizeLimit: Int?) {
        declared = columns
        sorted = columns.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        self.compression = compression
        self.hashes = hashes
        self.sizeLimit = sizeLimit
        config = MDSLayout.configJSON(sorted: sorted, compression: compression, hashes: hashes, sizeLimit: sizeLimit).serializedBytes(pythonSortedWriter)
    }

    /// The keys of `get_config()` (written sorted by the writer).
    static func configJSON(sorted: [MDSColumn], compression: String?, hashes: [String], sizeLimit: Int?) -> JSON {
        .object([
            "column_encodings": .array(sorted.map { .string($0.encoding.text) }),
            "column_names": .array(sorted.map { .string($0.name) }),
            "column_sizes": .array(sorted.map { $0.encoding.size.map { .number(JSONNumber($0)) } ?? .null }),
            "compression": compression.map(JSON.string) ?? .null,
            "format": "mds",
            "hashes": .array(hashes.map(JSON.string)),
            "size_limit": sizeLimit.map { .number(JSONNumber($0)) } ?? .null,
            "version": 2,
        ])
    }

    /// Bytes a shard has before its first sample: the count, the final offset, and the config.
    var shardOverhead: Int { 8 + config.count }

    /// Encodes one record (a JSON object) as an MDS sample.
    func encodeSample(_ object: JSONObject) throws(MDSValueError) -> [UInt8] {
        let names = Set(sorted.map(\.name))
        for m in object.members where !names.contains(m.key) {
            throw MDSValueError("top-level key '\(m.key)' is not an MDS column (declare it with --column \(m.key):json)")
        }
        var head: [UInt8] = []
        var body: [UInt8] = []
        for column in sorted {
            guard let value = object[column.name] else { throw MDSValueError("column '\(column.name)' is missing", missing: true) }
            let start = body.count
            try MDSLayout.encode(value, as: column, into: &body)
            if column.encoding.size == nil { appendUInt32(UInt32(body.count - start), to: &head) }
        }
        return head + body
    }

    static func encode(_ value: JSON, as column: MDSColumn, into out: inout [UInt8]) throws(MDSValueError) {
        let name = column.name
        switch column.encoding {
        case .json:
            try writePythonJSON(value, into: &out)
        case .str, .bytes:
            guard case .string(let s) = value else { throw MDSValueError("column '\(name)' (\(column.encoding.text)) needs a string, found \(value.typeName)") }
            out.append(contentsOf: s.utf8)
        case .int:
            guard case .number(let n) = value, n.isInteger, MDSIntType.int64.append(n.text, to: &out) else {
                throw MDSValueError("column '\(name)' (int) needs an integer that fits int64, found \(value.typeName == "number" ? value.description : value.typeName)")
            }
        case .scalar(let t):
            guard case .number(let n) = value, n.isInteger, t.append(n.text, to: &out) else {
                throw MDSValueError("column '\(name)' (\(t.rawValue)) needs an integer that fits \(t.rawValue), found \(value.typeName == "number" ? value.description : value.typeName)")
            }
        case .ndarray(let t, let length):
            guard case .array(let items) = value else { throw MDSValueError("column '\(name)' (\(column.encoding.text)) needs a list of integers, found \(value.typeName)") }
            guard !items.isEmpty else { throw MDSValueError("column '\(name)' (\(column.encoding.text)): an empty list cannot be stored (mosaicml-streaming refuses 0-element arrays)") }
            if let length {
                guard items.count == length else { throw MDSValueError("column '\(name)' (\(column.encoding.text)) needs exactly \(length) values, found \(items.count)") }
            } else {
                // Dynamic shape: [ndim << 2 | shape dtype] [shape in the smallest unsigned type].
                let n = UInt64(items.count)
                let shapeCode: UInt8 = n < 1 << 8 ? 0 : n < 1 << 16 ? 1 : n < 1 << 32 ? 2 : 3
                out.append(1 << 2 | shapeCode)
                var u = n
                for _ in 0..<(1 << Int(shapeCode)) {
                    out.append(UInt8(truncatingIfNeeded: u))
                    u >>= 8
                }
            }
            for (k, item) in items.enumerated() {
                guard case .number(let v) = item, v.isInteger, t.append(v.text, to: &out) else {
                    throw MDSValueError("column '\(name)' (\(column.encoding.text)): item \(k) is \(item.typeName == "number" ? item.description : item.typeName), not an integer that fits \(t.rawValue)")
                }
            }
        }
    }

    /// The raw shard file for encoded samples.
    func shardBytes(samples: [UInt8], ranges: [Range<Int>]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + 4 * ranges.count + config.count + samples.count)
        appendUInt32(UInt32(ranges.count), to: &out)
        var offset = 4 + 4 * (ranges.count + 1) + config.count
        appendUInt32(UInt32(truncatingIfNeeded: offset), to: &out)
        for r in ranges {
            offset += r.count
            appendUInt32(UInt32(truncatingIfNeeded: offset), to: &out)
        }
        out.append(contentsOf: config)
        for r in ranges { out.append(contentsOf: samples[r]) }
        return out
    }

    /// One shard's entry in `index.json`.
    func indexEntry(samples: Int, raw: (basename: String, bytes: Int, hashes: [String: String]),
                    zip: (basename: String, bytes: Int, hashes: [String: String])?) -> JSON
    {
        func info(_ f: (basename: String, bytes: Int, hashes: [String: String])) -> JSON {
            .object(["basename": .string(f.basename), "bytes": .number(JSONNumber(f.bytes)),
                     "hashes": .object(JSONObject(f.hashes.sorted { $0.key < $1.key }.map { JSONMember($0.key, .string($0.value)) }))])
        }
        guard case .object(var o) = MDSLayout.configJSON(sorted: sorted, compression: compression, hashes: hashes, sizeLimit: sizeLimit) else { return .null }
        o["samples"] = .number(JSONNumber(samples))
        o["raw_data"] = info(raw)
        o["zip_data"] = zip.map(info) ?? .null
        return .object(o)
    }

    static func shardBasename(_ index: Int) -> String { "shard.\(String(format5: index)).mds" }
}

/// `json.dump(obj, sort_keys=True)`: Python's default separators and escapes, keys sorted.
let pythonSortedWriter = JSONWriter(sortKeys: true, asciiOnly: true, itemSeparator: ", ", keySeparator: ": ")

@inline(__always)
func appendUInt32(_ v: UInt32, to out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: v))
    out.append(UInt8(truncatingIfNeeded: v >> 8))
    out.append(UInt8(truncatingIfNeeded: v >> 16))
    out.append(UInt8(truncatingIfNeeded: v >> 24))
}

@inline(__always)
func readUInt32(_ b: [UInt8], _ at: Int) -> Int {
    Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
}

extension String {
    /// Zero-padded to at least `digits` digits.
    init(_ value: Int, digits: Int) {
        let s = String(value)
        self = s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
    }

    init(format5 value: Int) { self.init(value, digits: 5) }
}

// MARK: - Decoding

/// A decoded MDS shard: its columns and each sample's byte range.
struct MDSShard {
    let bytes: [UInt8]
    let columns: [MDSColumn?]  // nil: an encoding trajforge cannot read (kept for sizes)
    let names: [String]
    let encodings: [String]
    let sizes: [Int?]
    let samples: [Range<Int>]

    /// Parses the header; throws a message naming what is wrong.
    init(_ bytes: [UInt8]) throws(MDSFormatError) {
        self.bytes = bytes
        guard bytes.count >= 8 else { throw MDSFormatError("the file is \(bytes.count) bytes, shorter than an MDS header") }
        let n = readUInt32(bytes, 0)
        let offsetsEnd = 4 + 4 * (n + 1)
        guard offsetsEnd <= bytes.count else { throw MDSFormatError("the header claims \(n) samples, more offsets than the file holds") }
        var offsets: [Int] = []
        offsets.reserveCapacity(n + 1)
        for k in 0...n { offsets.append(readUInt32(bytes, 4 + 4 * k)) }
        let configEnd = offsets[0]
        guard configEnd >= offsetsEnd, configEnd <= bytes.count else { throw MDSFormatError("the first sample offset \(configEnd) is outside the file") }
        guard let config = try? JSON.parse(Array(bytes[offsetsEnd..<configEnd])), case .object(let o) = config,
              let names = o["column_names"]?.array?.compactMap(\.string), let encs = o["column_encodings"]?.array?.compactMap(\.string),
              let sizes = o["column_sizes"]?.array, names.count == encs.count, names.count == sizes.count
        else { throw MDSFormatError("the shard's config JSON is missing or damaged") }
        self.names = names
        encodings = encs
        self.sizes = sizes.map { $0.int }
        columns = zip(names, encs).map { name, enc in MDSEncoding.parse(enc).map { MDSColumn(name: name, encoding: $0) } }
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(n)
        for k in 0..<n {
            guard offsets[k] <= offsets[k + 1], offsets[k + 1] <= bytes.count else {
                throw MDSFormatError("sample \(k) spans bytes \(offsets[k])..<\(offsets[k + 1]), outside the \(bytes.count)-byte file (truncated?)")
            }
            ranges.append(offsets[k]..<offsets[k + 1])
        }
        guard offsets[n] == bytes.count else {
            throw MDSFormatError("the samples end at byte \(offsets[n]) but the file has \(bytes.count) bytes")
        }
        samples = ranges
    }

    /// Sample `k` as a JSON object (columns in `order` when given, else the shard's order).
    func record(_ k: Int, order: [String]? = nil) throws(MDSFormatError) -> JSONObject {
        let r = samples[k]
        var at = r.lowerBound
        var lengths: [Int] = []
        for size in sizes {
            if let size { lengths.append(size) } else {
                guard at + 4 <= r.upperBound else { throw MDSFormatError("sample \(k): its size header is cut short") }
                lengths.append(readUInt32(bytes, at))
                at += 4
            }
        }
        var members: [JSONMember] = []
        for (c, length) in lengths.enumerated() {
            guard at + length <= r.upperBound else { throw MDSFormatError("sample \(k): column '\(names[c])' runs past the sample's end") }
            let data = bytes[at..<(at + length)]
            at += length
            guard let column = columns[c] else {
                throw MDSFormatError("column '\(names[c])' has encoding \(encodings[c]), which trajforge cannot turn into JSON")
            }
            members.append(JSONMember(names[c], try MDSShard.decode(data, column, sample: k)))
        }
        guard at == r.upperBound else { throw MDSFormatError("sample \(k) has \(r.upperBound - at) bytes after its last column") }
        if let order {
            var sortedMembers: [JSONMember] = []
            for name in order { if let m = members.first(where: { $0.key == name }) { sortedMembers.append(m) } }
            if sortedMembers.count == members.count { members = sortedMembers }
        }
        return JSONObject(members)
    }

    static func decode(_ data: ArraySlice<UInt8>, _ column: MDSColumn, sample k: Int) throws(MDSFormatError) -> JSON {
        func fail(_ what: String) -> MDSFormatError { MDSFormatError("sample \(k), column '\(column.name)': \(what)") }
        switch column.encoding {
        case .json:
            do { return try JSON.parse(Array(data)) } catch { throw fail("invalid JSON (\(error))") }
        case .str, .bytes:
            guard let s = String(validating: data, as: UTF8.self) else { throw fail("not valid UTF-8") }
            return .string(s)
        case .int:
            guard data.count == 8 else { throw fail("an int column needs 8 bytes, found \(data.count)") }
            return .number(JSONNumber(unchecked: MDSIntType.int64.read(data)))
        case .scalar(let t):
            guard data.count == t.width else { throw fail("\(t.rawValue) needs \(t.width) bytes, found \(data.count)") }
            return .number(JSONNumber(unchecked: t.read(data)))
        case .ndarray(let t, let length):
            var at = data.startIndex
            var count = length ?? 0
            if length == nil {
                guard at < data.endIndex else { throw fail("empty ndarray") }
                let byte = data[at]
                at += 1
                let ndim = Int(byte >> 2)
                let shapeWidth = 1 << Int(byte & 3)
                guard ndim == 1 else { throw fail("a \(ndim)-D array (trajforge reads 1-D arrays)") }
                guard at + shapeWidth <= data.endIndex else { throw fail("the shape is cut short") }
                count = Int(MDSIntType.uint64.read(data[at..<(at + shapeWidth)]))!
                at += shapeWidth
            }
            guard data.endIndex - at == count * t.width else { throw fail("\(count) values of \(t.rawValue) need \(count * t.width) bytes, found \(data.endIndex - at)") }
            var items: [JSON] = []
            items.reserveCapacity(count)
            for i in 0..<count {
                let s = at + i * t.width
                items.append(.number(JSONNumber(unchecked: t.read(data[s..<(s + t.width)]))))
            }
            return .array(items)
        }
    }
}

struct MDSFormatError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
