import ByteJSON
import Foundation

/// Options of the ingest stage.
public struct IngestOptions: Sendable {
    public var format: SourceFormat = .auto
    /// Tool schemas for formats that do not store them (tau-bench, tau2-bench).
    public var tools: [JSON]?
    public var domain: String?
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()

    public init() {}
}

/// The ingest stage: raw rollout files in, canonical trajectories out, with a ledger and rejects.
public final class Ingester {
    let options: IngestOptions
    public private(set) var ledger = Ledger(stage: "ingest")

    public init(options: IngestOptions) {
        self.options = options
        ledger.outputUnit = "trajectories"
    }

    /// Ingests `inputs` in order, writing trajectories to `output` and rejects to `rejects`.
    public func run(inputs: [String], output: OutputFile, rejects: OutputFile?) throws(IOError) {
        for path in inputs { try ingest(path, output: output, rejects: rejects) }
        if ledger.counters["trajectories with no tool schemas", default: 0] > 0, options.tools == nil {
            ledger.note("some sources store no tool schemas (tau-bench, tau2-bench): pass --tools tools.json")
        }
    }

    func ingest(_ path: String, output: OutputFile, rejects: OutputFile?) throws(IOError) {
        let input = try openRecords(path, limits: options.limits)
        switch input.container {
        case .empty:
            ledger.note("\(input.describe(path)) (no records)")
        case .document:
            try ingestDocument(path, input: input, output: output, rejects: rejects)
        case .jsonl, .array:
            try process(input.reader!, described: input.describe(path), output: output, rejects: rejects)
            if let lines = input.reader as? JSONLReader, lines.blankLines > 0 {
                ledger.note("\(input.describe(path)): skipped \(lines.blankLines) blank lines")
            }
        }
    }

    /// tau2-bench results (or any single JSON document). Pass 1 reads every member but the
    /// `simulations` array as context; pass 2 streams the simulations, so memory stays bounded by
    /// the largest simulation. Standard input is spooled to a temporary file to be read twice.
    func ingestDocument(_ path: String, input: OpenedInput, output: OutputFile, rejects: OutputFile?) throws(IOError) {
        var readPath = path
        var spool: String?
        if path == "-" {
            let temp = FileManager.default.temporaryDirectory.appendingPathComponent("trajforge-stdin-\(getpid()).json").path
            let file = try OutputFile(path: temp, compression: OutputCompression(.none))
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try input.replay.read(into: &chunk)
                if n == 0 { break }
                try file.write(Array(chunk[0..<n]))
            }
            try file.commit()
            readPath = temp
            spool = temp
        }
        defer { if let spool { unlink(spool) } }

        let contextReader = JSONContainerReader(source: try openDecompressed(readPath).source, file: path,
                                                shape: .object(streamKey: "simulations", collectContext: true, emitRecords: false),
                                                limits: options.limits)
        var context = JSONObject()
        var memberProblems: [Reject] = []
        while let batch = try contextReader.nextBatch() {
            for item in batch.items {
                // Structural problems are reported by pass 2, which meets them again.
                guard case .context(let key, let range) = item else { continue }
                let raw = RawRecord(range: range, location: RecordLocation(file: path, line: 1, index: 0, offset: 0))
                switch parseRecord(batch, raw) {
                case .success(let value): context[key] = value
                case .failure(let error):
                    memberProblems.append(Reject(stage: "ingest", file: path, reason: .invalidJSON,
                                                 detail: "top-level member \"\(key)\" is not valid JSON: \(error)"))
                }
            }
        }
        guard contextReader.sawStreamKey, options.format == .tau2Bench || options.format == .auto else {
            // Not tau2-bench results: the whole document is one record.
            let reader = WholeDocumentReader(source: try openDecompressed(readPath).source, file: path, limits: options.limits)
            try process(reader, described: input.describe(path), output: output, rejects: rejects)
            return
        }
        ledger.input += memberProblems.count
        for p in memberProblems { ledger.reject(p.reason) }
        try RecordStage.writeRejects(memberProblems, to: rejects)
        let adapter = Tau2BenchAdapter(context: context, tools: options.tools, domain: options.domain)
        ledger.note("\(input.describe(path)); format tau2-bench (\(context["tasks"]?.array?.count ?? 0) tasks)")
        let reader = JSONContainerReader(source: try openDecompressed(readPath).source, file: path,
                                         shape: .object(streamKey: "simulations", collectContext: false, emitRecords: true),
                                         limits: options.limits)
        try process(reader, described: nil, output: output, rejects: rejects, format: .tau2Bench, tau2: adapter)
    }

    /// Converts every batch of `reader` on all workers and writes the results in input order.
    func process(_ reader: RecordReader, described: String?, output: OutputFile, rejects: OutputFile?,
                 format fixed: SourceFormat? = nil, tau2: Tau2BenchAdapter? = nil) throws(IOError)
    {
        var format = fixed ?? (options.format == .auto ? nil : options.format)
        var notes: [String] = []
        // The converter is chosen on the first batch (auto-detection needs a record to look at);
        // workers only read it after that.
        let chosen = SharedBox<(SourceFormat, Convert)?>(nil)
        try RecordStage.run(reader: reader, threads: options.threads, ledger: &ledger, output: output, rejects: rejects,
                            onBatch: { batch in
                                guard chosen.value == nil else { return }
                                if format == nil {
                                    let detected = Ingester.detect(batch)
                                    format = detected ?? .openai
                                    if let described {
                                        notes.append("\(described); format \(format!.rawValue) "
                                            + (detected == nil ? "assumed (no record looked like a known format)" : "detected"))
                                    }
                                    if format == .sharegpt {
                                        notes.append("sharegpt records are not marked verified: for APIGen-MT-5k use --from apigen-mt")
                                    }
                                } else if let described {
                                    notes.append("\(described); format \(format!.rawValue)")
                                }
                                chosen.value = (format!, self.converter(for: format!, tau2: tau2))
                            },
                            handle: { item, batch in
                                guard case .record(let raw) = item, let (format, convert) = chosen.value else { return ItemOutput() }
                                return Ingester.handle(raw, batch: batch, format: format, convert: convert)
                            })
        for n in notes { ledger.note(n) }
    }

    typealias Convert = @Sendable (JSON, RecordContext) -> [Conversion]

    func converter(for format: SourceFormat, tau2: Tau2BenchAdapter?) -> Convert {
        let tools = options.tools
        let domain = options.domain
        switch format {
        case .tauBench:
            let a = TauBenchAdapter(tools: tools ?? [], domain: domain)
            return { a.convert($0, $1) }
        case .tau2Bench:
            if let tau2 { return { [tau2.convert($0, $1)] } }
            return { Tau2BenchAdapter.convertDocument($0, $1, tools: tools, domain: domain) }
        case .sharegpt, .apigenMT:
            let a = ShareGPTAdapter(format: format, domain: domain, assumeSuccess: format == .apigenMT)
            return { a.convert($0, $1) }
        case .openai, .auto:
            let a = OpenAIAdapter(domain: domain)
            return { a.convert($0, $1) }
        }
    }

    /// The format of the first record in the batch that parses and looks like one.
    static func detect(_ batch: RecordBatch) -> SourceFormat? {
        for item in batch.items {
            guard case .record(let r) = item, case .success(let json) = parseRecord(batch, r) else { continue }
            if let f = detect(json) { return f }
        }
        return nil
    }

    /// Recognises a record by its keys.
    public static func detect(_ json: JSON) -> SourceFormat? {
        guard case .object(let o) = json else { return nil }
        if case .array? = o["conversations"] { return .sharegpt }
        if o["traj"] != nil, o["task_id"] != nil { return .tauBench }
        if o["simulations"] != nil { return .tau2Bench }
        if case .array? = o["messages"] { return .openai }
        return nil
    }

    /// Parses and converts one record (runs on a worker thread).
    static func handle(_ raw: RawRecord, batch: RecordBatch, format: SourceFormat, convert: Convert) -> ItemOutput {
        var out = ItemOutput()
        let bytes = batch.storage[raw.range]
        let json: JSON
        switch parseRecord(batch, raw) {
        case .success(let j): json = j
        case .failure(let error):
            out.inputs = 1
            out.rejects.append(Reject(stage: "ingest", at: raw.location, reason: .invalidJSON,
                                      detail: "\(error) (offset in the file's decompressed bytes)", excerptOf: bytes))
            return out
        }
        var record = json
        var carry: JSON?
        if format == .openai || format == .sharegpt || format == .apigenMT, case .object(var o) = json,
           let c = o.removeValue(forKey: Carry.column)
        {
            carry = c
            record = .object(o)
        }
        let ctx = RecordContext(location: raw.location, bytes: bytes, format: format)
        for conversion in convert(record, ctx) {
            out.inputs += 1
            switch conversion {
            case .success(var t):
                if let carry {
                    do throws(IngestFailure) { t = try Carry.apply(carry, to: t) } catch {
                        out.rejects.append(Reject(stage: "ingest", at: raw.location, reason: error.reason, detail: error.detail, excerptOf: bytes))
                        continue
                    }
                }
                out.kept += 1
                out.count("tool calls with no result", t.unansweredCallCount)
                if t.tools.isEmpty { out.count("trajectories with no tool schemas") }
                out.emit(t.json)
            case .failure(let failure):
                out.rejects.append(Reject(stage: "ingest", at: raw.location, reason: failure.reason, detail: failure.detail, excerptOf: bytes))
            }
        }
        return out
    }
}

extension Trajectory {
    /// Assistant tool calls that no tool message answers.
    public var unansweredCallCount: Int {
        var answered = Set<String>()
        for m in messages where m.role == .tool { if let id = m.toolCallID { answered.insert(id) } }
        var n = 0
        for m in messages where m.role == .assistant { for c in m.toolCalls where !answered.contains(c.id) { n += 1 } }
        return n
    }
}
