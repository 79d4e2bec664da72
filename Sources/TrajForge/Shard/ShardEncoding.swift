import ByteJSON

// Turning one input record into what a shard stores ("payload") and how many uncompressed bytes
// it adds to its shard ("size"). Runs on all workers; a record that cannot be stored becomes a
// reject with its place and reason.

/// A record ready for a shard.
struct EncodedRecord: Sendable {
    /// What the shard stores, unless `source` is set.
    var payload: [UInt8]
    /// The payload is these bytes of the batch, as they are (a JSONL line kept verbatim: no copy).
    var source: Range<Int>?
    /// Uncompressed bytes the record adds to a shard (format-specific, see `ShardAssembler`).
    var size: Int

    init(payload: [UInt8], size: Int) {
        self.payload = payload
        source = nil
        self.size = size
    }

    init(source: Range<Int>, size: Int) {
        payload = []
        self.source = source
        self.size = size
    }

    func bytes(_ batch: RecordBatch) -> ArraySlice<UInt8> { source.map { batch.storage[$0] } ?? payload[...] }
}

/// A WebDataset sample inside a payload: key (empty = positional) and members sorted by extension.
/// Layout: [u16 key length][key][u8 member count] then per member [u8 ext length][ext][u32 length][data].
struct TarSample {
    var key: [UInt8]
    var members: [(ext: [UInt8], range: Range<Int>)]

    static func encode(key: [UInt8], members: [(ext: [UInt8], data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        out.append(UInt8(key.count & 0xFF))
        out.append(UInt8(key.count >> 8))
        out.append(contentsOf: key)
        out.append(UInt8(members.count))
        for m in members {
            out.append(UInt8(m.ext.count))
            out.append(contentsOf: m.ext)
            appendUInt32(UInt32(m.data.count), to: &out)
            out.append(contentsOf: m.data)
        }
        return out
    }

    /// Decodes a payload stored in `storage[range]`.
    init(_ storage: [UInt8], _ range: Range<Int>) {
        var at = range.lowerBound
        let keyLength = Int(storage[at]) | Int(storage[at + 1]) << 8
        at += 2
        key = Array(storage[at..<(at + keyLength)])
        at += keyLength
        let count = Int(storage[at])
        at += 1
        members = []
        for _ in 0..<count {
            let extLength = Int(storage[at])
            at += 1
            let ext = Array(storage[at..<(at + extLength)])
            at += extLength
            let length = readUInt32(storage, at)
            at += 4
            members.append((ext, at..<(at + length)))
            at += length
        }
    }
}

/// Longest WebDataset key: a ustar name holds 100 bytes, and `.` + the longest extension must fit.
func maxKeyLength(_ members: [WebDatasetMember]) -> Int {
    100 - 1 - max(4, members.map { $0.ext.utf8.count }.max() ?? 0)
}

struct RecordEncoder: Sendable {
    let format: ShardFormat
    let keyField: String?
    let members: [WebDatasetMember]
    let layout: MDSLayout?

    /// Encodes the record `raw` of `batch` (nil layout for MDS means no record has parsed yet).
    func encode(_ batch: RecordBatch, _ raw: RawRecord) -> Result<EncodedRecord, Reject> {
        let bytes = batch.storage[raw.range]
        func reject(_ reason: RejectReason, _ detail: String) -> Result<EncodedRecord, Reject> {
            .failure(Reject(stage: "shard", at: raw.location, reason: reason, detail: detail, excerptOf: bytes))
        }
        // Records stored as they came need no tree: the scanner says valid object, one line.
        if format == .jsonl || (format == .webdataset && keyField == nil && members.isEmpty) {
            let scan = JSONScan.scan(bytes)
            if scan.isObject && !scan.hasLineBreak {
                let range = RecordEncoder.trimmedRange(bytes)
                if format == .jsonl { return .success(EncodedRecord(source: range, size: range.count + 1)) }
                let line = Array(batch.storage[range])
                return .success(EncodedRecord(payload: TarSample.encode(key: [], members: [(Array("json".utf8), line)]),
                                              size: TarStreamWriter.memberBytes(line.count)))
            }
        }
        let value: JSON
        switch parseRecord(batch, raw) {
        case .success(let v): value = v
        case .failure(let e): return reject(.invalidJSON, "\(e.kind.rawValue) at byte \(e.offset - raw.location.offset)")
        }
        guard case .object(let object) = value else {
            return reject(.wrongType, "a record must be a JSON object, found \(value.typeName)")
        }
        switch format {
        case .jsonl:
            let line = RecordEncoder.line(bytes, value)
            return .success(EncodedRecord(payload: line, size: line.count + 1))
        case .webdataset:
            var key: [UInt8] = []
            if let keyField {
                guard let k = object[keyField] else { return reject(.missingField, "the key field '\(keyField)' is missing") }
                guard case .string(let s) = k else { return reject(.wrongType, "the key field '\(keyField)' is \(k.typeName), not a string") }
                key = Array(s.utf8)
                let limit = maxKeyLength(members)
                guard !key.isEmpty, key.count <= limit, key.allSatisfy(isKeyByte) else {
                    return reject(.wrongType, "'\(keyField)' = \"\(s)\" cannot be a WebDataset key: use 1-\(limit) characters of A-Z a-z 0-9 _ - "
                        + "(WebDataset cuts a key at its first dot, and tar names are ASCII)")
                }
            }
            var parts: [(ext: [UInt8], data: [UInt8])] = [(Array("json".utf8), RecordEncoder.line(bytes, value))]
            for m in members {
                guard let v = object[m.field] else { return reject(.missingField, "the field '\(m.field)' for member .\(m.ext) is missing") }
                if case .string(let s) = v { parts.append((Array(m.ext.utf8), Array(s.utf8))) } else { parts.append((Array(m.ext.utf8), v.serializedBytes(.compact))) }
            }
            parts.sort { $0.ext.lexicographicallyPrecedes($1.ext) }
            let size = parts.reduce(0) { $0 + TarStreamWriter.memberBytes($1.data.count) }
            return .success(EncodedRecord(payload: TarSample.encode(key: key, members: parts), size: size))
        case .mds:
            guard let layout else { return reject(.wrongType, "no MDS column layout") }
            do {
                let sample = try layout.encodeSample(object)
                return .success(EncodedRecord(payload: sample, size: sample.count + 4))
            } catch {
                return reject(error.missing ? .missingField : error.message.hasPrefix("top-level key") ? .unrecognizedFormat : .wrongType, error.message)
            }
        }
    }

    /// The record as one line: its own bytes (whitespace around it trimmed) when they hold no line
    /// break, else compact JSON (a pretty-printed record from a JSON array).
    static func line(_ bytes: ArraySlice<UInt8>, _ value: JSON) -> [UInt8] {
        JSONScan.scan(bytes).hasLineBreak ? value.serializedBytes(.compact) : trimmed(bytes)
    }

    /// The bytes without surrounding JSON whitespace.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> [UInt8] { Array(bytes[trimmedRange(bytes)]) }

    static func trimmedRange(_ bytes: ArraySlice<UInt8>) -> Range<Int> {
        var lo = bytes.startIndex
        var hi = bytes.endIndex
        while lo < hi, isJSONWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, isJSONWhitespace(bytes[hi - 1]) { hi -= 1 }
        return lo..<hi
    }
}

/// MDS columns from the first record: each top-level key, in its order, encoded as json.
func inferColumns(_ batch: RecordBatch) -> [MDSColumn]? {
    for item in batch.items {
        guard case .record(let raw) = item, case .success(.object(let o)) = parseRecord(batch, raw) else { continue }
        return o.members.map { MDSColumn(name: $0.key, encoding: .json) }
    }
    return nil
}

/// A record of `batch` as one JSONL line (newline included): its own bytes when they are valid JSON
/// on one line, compact JSON when the value spans lines, or a reject naming where it breaks. What
/// `trajforge cat` writes.
public func recordLine(_ batch: RecordBatch, _ raw: RawRecord, stage: String) -> Result<[UInt8], Reject> {
    let bytes = batch.storage[raw.range]
    let scan = JSONScan.scan(bytes)
    if scan.valid && !scan.hasLineBreak { return .success(RecordEncoder.trimmed(bytes) + [0x0A]) }
    switch parseRecord(batch, raw) {
    case .failure(let e):
        return .failure(Reject(stage: stage, at: raw.location, reason: .invalidJSON,
                               detail: "\(e.kind.rawValue) at byte \(e.offset - raw.location.offset)", excerptOf: bytes))
    case .success(let value):
        return .success(value.serializedBytes(.compact) + [0x0A])
    }
}
