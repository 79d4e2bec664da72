import ByteJSON

/// What one input item became: output lines, rejects, and counts for the ledger.
public struct ItemOutput: Sendable {
    public var lines: [UInt8] = []
    public var rejects: [Reject] = []
    public var drops: [Drop] = []
    /// Extra lines for a stage's side report (e.g. validation findings), written in input order.
    public var side: [JSON] = []
    /// Which of a stage's outputs (`lanes`) this item's lines go to (e.g. train / validation).
    public var lane = 0
    public var inputs = 0
    public var kept = 0
    public var outputs = 0
    public var counters: [String: Int] = [:]

    public init() {}

    public mutating func count(_ name: String, _ n: Int = 1) {
        if n != 0 { counters[name, default: 0] += n }
    }

    /// Writes one JSON value as a JSONL line.
    public mutating func emit(_ value: JSON) {
        JSONWriter.compact.write(value, into: &lines)
        lines.append(0x0A)
        outputs += 1
    }
}

/// The loop every streaming stage runs: read a batch, handle its items on all workers, then write
/// outputs and rejects in input order and account for every item in the ledger.
public enum RecordStage {
    public static func run(reader: RecordReader, threads: Int, ledger: inout Ledger, output: OutputFile?, rejects: OutputFile?,
                           lanes: [OutputFile?] = [], drops: OutputFile? = nil, side: OutputFile? = nil,
                           onBatch: (RecordBatch) -> Void = { _ in },
                           handle: @escaping @Sendable (BatchItem, RecordBatch) -> ItemOutput) throws(IOError)
    {
        while let batch = try reader.nextBatch() {
            onBatch(batch)
            let results = parallelMap(count: batch.items.count, threads: threads) { k in
                switch batch.items[k] {
                case .problem(let reject):
                    var out = ItemOutput()
                    out.inputs = 1
                    out.rejects = [reject]
                    return out
                case .context: return ItemOutput()
                case .record: return handle(batch.items[k], batch)
                }
            }
            var lines: [UInt8] = []
            var laneLines = [[UInt8]](repeating: [], count: lanes.count)
            var rejected: [Reject] = []
            var dropped: [UInt8] = []
            var sideLines: [UInt8] = []
            for r in results {
                for s in r.side {
                    JSONWriter.compact.write(s, into: &sideLines)
                    sideLines.append(0x0A)
                }
                for d in r.drops {
                    ledger.drop(d.reason)
                    JSONWriter.compact.write(d.json, into: &dropped)
                    dropped.append(0x0A)
                }
                ledger.input += r.inputs
                ledger.kept += r.kept
                ledger.output += r.outputs
                for (k, v) in r.counters { ledger.count(k, v) }
                for reject in r.rejects { ledger.reject(reject.reason) }
                if lanes.isEmpty { lines.append(contentsOf: r.lines) } else { laneLines[r.lane].append(contentsOf: r.lines) }
                rejected.append(contentsOf: r.rejects)
            }
            if let output, !lines.isEmpty { try output.write(lines) }
            for (k, bytes) in laneLines.enumerated() where !bytes.isEmpty { try lanes[k]?.write(bytes) }
            if let drops, !dropped.isEmpty { try drops.write(dropped) }
            if let side, !sideLines.isEmpty { try side.write(sideLines) }
            try writeRejects(rejected, to: rejects)
        }
    }

    public static func writeRejects(_ rejected: [Reject], to rejects: OutputFile?) throws(IOError) {
        guard let rejects, !rejected.isEmpty else { return }
        var bytes: [UInt8] = []
        for r in rejected {
            JSONWriter.compact.write(r.json, into: &bytes)
            bytes.append(0x0A)
        }
        try rejects.write(bytes)
    }
}

/// How a file's records are laid out.
public enum Container: String, Sendable {
    case jsonl = "JSONL"
    case array = "JSON array"
    case document = "JSON document"
    case empty = "empty"

    /// Decides from the first bytes: `[` → array; `{` whose first line is a complete record →
    /// JSONL; a `{` line that does not close → a multi-line document; anything else is read as
    /// JSONL (each bad line is then rejected with its line number).
    public static func sniff(_ head: [UInt8]) -> Container {
        var i = 0
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while i < head.count, isJSONWhitespace(head[i]) { i += 1 }
        guard i < head.count else { return .empty }
        if head[i] == UInt8(ascii: "[") { return .array }
        guard head[i] == UInt8(ascii: "{") else { return .jsonl }
        guard let nl = head[i...].firstIndex(of: 0x0A) else { return .jsonl }
        var end = nl
        while end > i, isJSONWhitespace(head[end - 1]) { end -= 1 }
        return head[end - 1] == UInt8(ascii: "}") ? .jsonl : .document
    }
}

/// An opened input: its record reader (nil for an empty file) and how it was recognised.
public struct OpenedInput {
    public var reader: RecordReader?
    public var container: Container
    public var compression: Compression
    /// The stream positioned at its start (for readers the caller builds itself).
    var replay: ByteSource

    /// "path: JSONL, gzip-compressed"
    public func describe(_ path: String) -> String {
        var s = "\(path == "-" ? "stdin" : path): \(container.rawValue)"
        if compression != .none { s += ", \(compression.rawValue)-compressed" }
        return s
    }
}

/// Opens a file of records (JSONL, a JSON array, or one JSON document), decompressing by magic bytes.
/// Records and rejects name `name` (default: `path`; e.g. the original name of a spooled stdin).
public func openRecords(_ path: String, name: String? = nil, limits: ReaderLimits = .init()) throws(IOError) -> OpenedInput {
    let file = name ?? path
    let (source, compression) = try openDecompressed(path)
    let (head, damage) = try source.readHead(1 << 20)
    let replay = PrefixedSource(prefix: head, rest: source, pendingError: damage)
    var container = Container.sniff(head)
    // A stream damaged before its first byte still yields one reject (read as JSONL).
    if container == .empty, damage != nil { container = .jsonl }
    let reader: RecordReader?
    switch container {
    case .empty: reader = nil
    case .jsonl: reader = JSONLReader(source: replay, file: file, limits: limits)
    case .array: reader = JSONContainerReader(source: replay, file: file, shape: .array, limits: limits)
    case .document: reader = WholeDocumentReader(source: replay, file: file, limits: limits)
    }
    return OpenedInput(reader: reader, container: container, compression: compression, replay: replay)
}

/// Reads a whole stream as one record (a single JSON document).
final class WholeDocumentReader: ChunkedInput, RecordReader {
    let limits: ReaderLimits
    var done = false

    init(source: ByteSource, file: String, limits: ReaderLimits) {
        self.limits = limits
        super.init(source: source, file: file)
    }

    func nextBatch() throws(IOError) -> RecordBatch? {
        if done { return nil }
        done = true
        var batch = RecordBatch()
        while try refill() {
            batch.storage.append(contentsOf: buffer[start..<end])
            if batch.storage.count > limits.maxRecordBytes {
                batch.storage = []
                batch.items = [.problem(Reject(stage: "read", file: file, line: 1, index: 0, offset: 0, reason: .recordTooLarge,
                                               detail: "the document is larger than \(limits.maxRecordBytes) bytes (--max-record-bytes)"))]
                return batch
            }
        }
        if let damage {
            batch.storage = []
            batch.items = [.problem(Reject(stage: "read", file: file, line: 1, index: 0, offset: 0, reason: .corruptStream, detail: damage.message))]
            return batch
        }
        batch.items = [.record(RawRecord(range: 0..<batch.storage.count, location: RecordLocation(file: file, line: 1, index: 0, offset: 0)))]
        return batch
    }
}

/// Parses a batch record's bytes.
public func parseRecord(_ batch: RecordBatch, _ raw: RawRecord) -> Result<JSON, JSONError> {
    do { return .success(try batch.storage[raw.range].withUnsafeBytes { (b) throws(JSONError) -> JSON in try JSON.parse(b) }) } catch {
        return .failure((error as! JSONError).shifted(by: raw.location.offset))
    }
}

/// Decodes a canonical trajectory from a batch record, or says why it is not one.
public func readTrajectory(_ batch: RecordBatch, _ raw: RawRecord, stage: String = "export") -> Result<Trajectory, Reject> {
    let bytes = batch.storage[raw.range]
    switch parseRecord(batch, raw) {
    case .failure(let error):
        return .failure(Reject(stage: stage, at: raw.location, reason: .invalidJSON, detail: error.description, excerptOf: bytes))
    case .success(let json):
        do throws(DecodeError) { return .success(try Trajectory(json: json)) } catch {
            return .failure(Reject(stage: stage, at: raw.location, reason: .notCanonical,
                                   detail: "not a trajforge trajectory (\(error)); run `trajforge ingest` first", excerptOf: bytes))
        }
    }
}
