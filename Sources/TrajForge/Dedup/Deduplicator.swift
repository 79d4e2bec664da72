import ByteJSON
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public struct DedupOptions: Sendable {
    /// Drop records whose exact form (`ExactForm`) equals an earlier kept one's.
    public var exact = true
    /// Drop near-duplicates (MinHash + LSH on `Shingler` shingles).
    public var near = true
    /// Word n-gram size of text shingles (datatrove `n_grams`).
    public var ngram = 5
    /// LSH bands (datatrove `num_buckets`) and rows per band (`hashes_per_bucket`): the signature
    /// has bands × rows permutations.
    public var bands = 14
    public var rows = 8
    /// Seed of the MinHash permutations (datatrove `seed`).
    public var seed: UInt64 = 1
    /// Candidate pairs are joined when their estimated Jaccard similarity is at least this.
    public var threshold = 0.8
    /// Also shingle tool observations (tool result text).
    public var shingleObservations = false
    /// Per LSH bucket, how many representatives a newcomer is compared with (bounds the work of
    /// huge clusters).
    public var representatives = 8
    /// Keep at most this many records per task (group, else instruction); nil: no limit.
    public var maxPerTask: Int?
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()
    /// Where standard input and other streams are spooled for the second pass (default: $TMPDIR,
    /// else /tmp).
    public var spoolDirectory: String?

    public init() {}

    public var permutations: Int { bands * rows }

    /// The Jaccard similarity at which a pair has a 50% chance of becoming a candidate, ≈ (1/b)^(1/r).
    public var lshThreshold: Double { pow(1 / Double(bands), 1 / Double(rows)) }
}

/// The dedup stage. Two passes over the input: the first computes each record's exact-form digest,
/// MinHash signature, verified flag and task key into a `DedupIndex` (records themselves are not
/// kept), then clusters; the second reads the input again and writes kept records and drops, in
/// input order; kept records are written as they were read. Standard input and other streams
/// (pipes, FIFOs) are spooled to a temporary file for the second pass.
public final class Deduplicator {
    public static let reasons: [(code: String, meaning: String)] = [
        ("exact-duplicate", "same exact form as the kept record (see above)"),
        ("near-duplicate", "in the kept record's MinHash cluster (estimated Jaccard given)"),
        ("task-limit", "its task already has --max-per-task kept records"),
    ]

    let options: DedupOptions
    public private(set) var ledger = Ledger(stage: "dedup")
    public private(set) var stats = DedupStats()
    /// Index bytes per record of the last run.
    public private(set) var indexBytesPerRecord = 0

    public init(options: DedupOptions) {
        precondition(options.ngram >= 1 && options.bands >= 1 && options.rows >= 1 && options.representatives >= 1)
        self.options = options
    }

    public func run(inputs: [String], output: OutputFile?, rejects: OutputFile?, drops: OutputFile?) throws(IOError) {
        let options = self.options
        let t0 = DispatchTime.now().uptimeNanoseconds  // TIMING
        // The input is read twice: standard input, pipes and other streams are spooled first.
        var spools: [String] = []
        defer { for path in spools { unlink(path) } }
        var sources: [(path: String, name: String)] = []
        for path in inputs {
            if Deduplicator.isRereadable(path) {
                sources.append((path, path))
            } else {
                let spool = try Deduplicator.spool(path, directory: options.spoolDirectory)
                spools.append(spool)
                sources.append((spool, path))
            }
        }

        // Pass 1: facts of every record, in input order. Each worker keeps its scanner (and its
        // buffers) for the whole pass and takes short runs of a batch's records; one worker also
        // reads the next batch and adds the previous batch's facts to the index, so both overlap
        // the work.
        let index = DedupIndex(permutations: options.near ? options.permutations : 0)
        let shingler = Shingler(ngram: options.ngram, observations: options.shingleObservations)
        let hasher = MinHasher(permutations: max(1, options.permutations), seed: options.seed)
        let tools = ToolsDigestCache()
        let workers = max(1, options.threads)
        let scanners = WorkerState(count: workers) { _ in
            (FactScanner(options: options, shingler: shingler, hasher: hasher, tools: tools), FactsScratch())
        }
        for source in sources {
            let input = try Deduplicator.open(source.path, as: source.name, limits: options.limits)
            guard let reader = input.reader else { continue }
            let ahead = ReadAhead(reader)
            var next = try reader.nextBatch()
            var pending: [FactsRun] = []
            while let batch = next {
                let runs = Deduplicator.runs(of: batch.items.count, workers: workers)
                let previous = pending
                pending = Deduplicator.overlapped(count: runs.count, workers: workers) {
                    for run in previous { index.append(run) }
                    ahead.read()
                } work: { w, r in
                    var out = FactsRun(permutations: index.permutations)
                    scanners.with(w) { state in
                        for k in runs[r] {
                            guard case .record(let raw) = batch.items[k] else { continue }
                            let scanned = batch.storage.withUnsafeBytes { all in
                                state.0.scan(UnsafeRawBufferPointer(rebasing: all[raw.range]), into: &out)
                            }
                            if !scanned {
                                out.append(Deduplicator.analyze(batch, raw, options: options, shingler: shingler, hasher: hasher,
                                                                tools: tools, work: &state.1))
                            }
                        }
                    }
                    return out
                }
                next = try ahead.take()
            }
            for run in pending { index.append(run) }
        }
        let tA = DispatchTime.now().uptimeNanoseconds  // TIMING
        index.resolve(exact: options.exact, near: options.near, bands: options.bands, rows: options.rows, threshold: options.threshold,
                      representatives: options.representatives, maxPerTask: options.maxPerTask)
        stats = index.stats
        indexBytesPerRecord = index.bytesPerRecord

        let tB = DispatchTime.now().uptimeNanoseconds  // TIMING
        // Pass 2: kept records (their bytes as read), drops and rejects, in input order. Workers
        // decide and write runs of records into their own buffers; one worker also reads the next
        // batch and hands the previous batch's buffers to the output files, in order.
        let ledgerBox = SharedBox(Ledger(stage: "dedup"))
        let failure = SharedBox<IOError?>(nil)
        var nextOrdinal = 0
        for source in sources {
            let input = try Deduplicator.open(source.path, as: source.name, limits: options.limits)
            guard let reader = input.reader else {
                ledgerBox.value.note("\(input.describe(source.name)) (no records)")
                continue
            }
            let ahead = ReadAhead(reader)
            var next = try reader.nextBatch()
            var pending: [RunOutput] = []
            while let batch = next {
                var ordinals = [Int](repeating: -1, count: batch.items.count)
                for (k, item) in batch.items.enumerated() {
                    if case .record = item {
                        ordinals[k] = nextOrdinal
                        nextOrdinal += 1
                    }
                }
                if nextOrdinal > index.count { break }
                let batchOrdinals = ordinals
                let runs = Deduplicator.runs(of: batch.items.count, workers: workers)
                let previous = pending
                pending = Deduplicator.overlapped(count: runs.count, workers: workers) {
                    Deduplicator.write(previous, output: output, drops: drops, rejects: rejects, ledger: ledgerBox, failure: failure)
                    ahead.read()
                } work: { _, r in
                    var out = RunOutput()
                    for k in runs[r] {
                        let verdict: Verdict
                        switch batch.items[k] {
                        case .problem(let reject): verdict = .reject(reject)
                        case .context: verdict = .none
                        case .record(let raw): verdict = Deduplicator.decide(batchOrdinals[k], raw: raw, batch: batch, index: index, options: options)
                        }
                        out.add(verdict, batch: batch)
                    }
                    return out
                }
                if let error = failure.value { throw error }
                next = try ahead.take()
            }
            Deduplicator.write(pending, output: output, drops: drops, rejects: rejects, ledger: ledgerBox, failure: failure)
            if let error = failure.value { throw error }
        }
        if nextOrdinal != index.count {
            throw IOError(path: inputs.joined(separator: ", "), "the input changed between the two passes (\(index.count) records, then \(nextOrdinal))")
        }
        var ledger = ledgerBox.value
        let tC = DispatchTime.now().uptimeNanoseconds  // TIMING
        if ProcessInfo.processInfo.environment["DEDUP_TIMING"] != nil { FileHandle.standardError.write("pass1 \(Double(tA - t0) / 1e9) resolve \(Double(tB - tA) / 1e9) pass2 \(Double(tC - tB) / 1e9)\n".data(using: .utf8)!) }  // TIMING
        Deduplicator.note(options: options, stats: stats, bytesPerRecord: indexBytesPerRecord, into: &ledger)
        self.ledger = ledger
    }

    /// Splits a batch's `count` items into runs short enough that workers finish a batch
    /// together (about 16 runs per worker).
    static func runs(of count: Int, workers: Int) -> [Range<Int>] {
        let n = max(1, min(count, workers * 16))
        return (0..<n).map { (count * $0 / n)..<(count * ($0 + 1) / n) }
    }

    /// Runs `work(worker, item)` for `count` items on `workers` threads, each taking the next
    /// item when it is free, while one of them runs `alongside` (the serial steps: reading,
    /// writing, indexing). Results are in item order, whatever the scheduling.
    static func overlapped<T>(count: Int, workers: Int, alongside: () -> Void, work: (Int, Int) -> T) -> [T] {
        if workers <= 1 {
            alongside()
            return (0..<count).map { work(0, $0) }
        }
        let claimed = Atomic<Int>(0)
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            nonisolated(unsafe) let out = buffer
            withoutActuallyEscaping(alongside) { alongside in
                withoutActuallyEscaping(work) { work in
                    nonisolated(unsafe) let alongside = alongside
                    nonisolated(unsafe) let work = work
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        while true {
                            let k = claimed.wrappingAdd(1, ordering: .relaxed).oldValue
                            if k > count { return }
                            if k == 0 { alongside() } else { (out.baseAddress! + k - 1).initialize(to: work(w, k - 1)) }
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// Writes the outputs of a batch's runs in order (the first failure is kept, then nothing
    /// more is written).
    static func write(_ runs: [RunOutput], output: OutputFile?, drops: OutputFile?, rejects: OutputFile?,
                      ledger: SharedBox<Ledger>, failure: SharedBox<IOError?>)
    {
        for run in runs {
            ledger.value.merge(run.ledger)
            guard failure.value == nil else { continue }
            do throws(IOError) {
                if let output, !run.lines.isEmpty { try output.write(run.lines) }
                if let drops, !run.drops.isEmpty { try drops.write(run.drops) }
                try RecordStage.writeRejects(run.rejects, to: rejects)
            } catch {
                failure.value = error
            }
        }
    }

    /// What the second pass writes for a run of records, and its ledger.
    struct RunOutput {
        var lines: [UInt8] = []
        var drops: [UInt8] = []
        var rejects: [Reject] = []
        var ledger = Ledger(stage: "dedup")

        mutating func add(_ v: Verdict, batch: RecordBatch) {
            switch v {
            case .none: return
            case .keep(let range):
                lines.append(contentsOf: batch.storage[range])
                lines.append(0x0A)
                ledger.kept += 1
                ledger.output += 1
            case .keepJSON(let bytes):
                lines.append(contentsOf: bytes)
                lines.append(0x0A)
                ledger.kept += 1
                ledger.output += 1
            case .drop(let d):
                ledger.drop(d.reason)
                JSONWriter.compact.write(d.json, into: &drops)
                drops.append(0x0A)
            case .reject(let r):
                ledger.reject(r.reason)
                rejects.append(r)
            }
            ledger.input += 1
        }
    }

    /// Buffers a worker reuses from record to record.
    struct FactsScratch {
        var hashes: [UInt64] = []
        var shingles = Shingler.Scratch()
    }

    static let toolsKey = Array("tools".utf8)

    /// Decodes one record and returns its first-pass facts (`decoded` false when it is not a
    /// canonical trajectory; the second pass rejects it).
    ///
    /// Tool schemas are usually the same for a whole file and make up much of each record, yet
    /// dedup only needs their digest: when a record's `tools` text is byte for byte the text of an
    /// earlier record that decoded, the record is decoded with `"tools":[]` in its place and the
    /// cached digest is used. Validity is unchanged: the replaced text is a known-valid array.
    static func analyze(_ batch: RecordBatch, _ raw: RawRecord, options: DedupOptions, shingler: Shingler, hasher: MinHasher,
                        tools: ToolsDigestCache, work: inout FactsScratch) -> RecordFacts
    {
        var fast: (Trajectory, [UInt8])?
        var span: Range<Int>?
        batch.storage.withUnsafeBytes { all in
            let b = UnsafeRawBufferPointer(rebasing: all[raw.range])
            span = TopLevelMember.valueRange(of: toolsKey, in: b)
            guard let span, let digest = tools.digest(ofRaw: UnsafeRawBufferPointer(rebasing: b[span])) else { return }
            var slim: [UInt8] = []
            slim.reserveCapacity(b.count - span.count + 2)
            slim.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[..<span.lowerBound]))
            slim.append(contentsOf: "[]".utf8)
            slim.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[span.upperBound...]))
            if let json = try? JSON.parse(slim), let t = try? Trajectory(json: json) { fast = (t, digest) }
        }
        let t: Trajectory
        let toolsDigest: [UInt8]
        if let fast {
            (t, toolsDigest) = fast
        } else {
            guard case .success(let full) = readTrajectory(batch, raw, stage: "dedup") else { return RecordFacts() }
            t = full
            toolsDigest = tools.digest(of: t.tools)
            if let span {
                let start = raw.range.lowerBound
                batch.storage.withUnsafeBytes { all in
                    tools.remember(raw: UnsafeRawBufferPointer(rebasing: all[(start + span.lowerBound)..<(start + span.upperBound)]), digest: toolsDigest)
                }
            }
        }
        return facts(t, toolsDigest: toolsDigest, options: options, shingler: shingler, hasher: hasher, work: &work)
    }

    /// The first-pass facts of one trajectory.
    static func facts(_ t: Trajectory, toolsDigest: [UInt8], options: DedupOptions, shingler: Shingler, hasher: MinHasher,
                      work: inout FactsScratch) -> RecordFacts
    {
        var f = RecordFacts()
        f.decoded = true
        f.id = t.id
        f.verified = t.outcome?.success == true
        f.digest = ExactForm.digest(ExactForm.bytes(of: t, toolsDigest: toolsDigest))
        if options.near {
            work.hashes.removeAll(keepingCapacity: true)
            shingler.hashes(t, into: &work.hashes, scratch: &work.shingles)
            if !work.hashes.isEmpty { f.signature = hasher.signature(of: work.hashes) }
        }
        if options.maxPerTask != nil { f.taskKey = taskKey(t).map { XXH64.hash($0) } }
        return f
    }

    /// The task a record belongs to: its group (e.g. `retail:17`), else its task instruction, else
    /// its first user message (trimmed); nil when it has none of these.
    public static func taskKey(_ t: Trajectory) -> String? {
        if let g = t.group { return "group:" + g }
        if let i = t.task?.instruction.flatMap(ExactForm.trimmed) { return "instruction:" + i }
        if let u = t.messages.first(where: { $0.role == .user })?.content.flatMap(ExactForm.trimmed) { return "instruction:" + u }
        return nil
    }

    /// How a task key is shown in drops: the group itself, or 16 hex digits of an instruction's hash.
    static func describeTask(_ key: String) -> String {
        if key.hasPrefix("group:") { return String(key.dropFirst(6)) }
        let h = String(XXH64.hash(key), radix: 16)
        return "instruction " + String(repeating: "0", count: 16 - h.count) + h
    }

    /// What the second pass does with one input item.
    enum Verdict: Sendable {
        case none
        /// Write these bytes of the batch (the record as read) as a line.
        case keep(Range<Int>)
        /// Write this JSON (a record that spanned lines, written compact).
        case keepJSON([UInt8])
        case drop(Drop)
        case reject(Reject)
    }

    /// The second-pass decision for record `ordinal`.
    static func decide(_ ordinal: Int, raw: RawRecord, batch: RecordBatch, index: DedupIndex, options: DedupOptions) -> Verdict {
        guard ordinal >= 0, ordinal < index.count, index.flag(ordinal, DedupIndex.decodedFlag) else {
            if case .failure(let reject) = readTrajectory(batch, raw, stage: "dedup") { return .reject(reject) }
            return .none  // cannot happen: the first pass could not decode it either
        }
        let kept = Int(index.keeper[ordinal])
        if kept != ordinal {
            let keptID = index.id(kept)
            let size = Int(index.clusterSize[UInt32(kept)] ?? 0)
            if options.exact && index.exactFirst[ordinal] == index.exactFirst[kept] {
                return .drop(Drop(id: index.id(ordinal), stage: "dedup", reason: "exact-duplicate",
                                  detail: "exact duplicate of \(keptID)",
                                  details: ["kept": .string(keptID), "jaccard": .number(JSONNumber(1.0)!), "cluster_size": .number(JSONNumber(size))]))
            }
            let jaccard = Double(index.agreements(ordinal, kept)) / Double(index.permutations)
            return .drop(Drop(id: index.id(ordinal), stage: "dedup", reason: "near-duplicate",
                              detail: "near duplicate of \(keptID) (estimated Jaccard \(fixed(jaccard, 4)))",
                              details: ["kept": .string(keptID), "jaccard": .number(JSONNumber((jaccard * 10000).rounded() / 10000)!),
                                        "cluster_size": .number(JSONNumber(size))]))
        }
        if !index.flag(ordinal, DedupIndex.taskDroppedFlag),
           let line = index.flag(ordinal, DedupIndex.oneLineFlag) ? trimmed(batch.storage[raw.range]) : oneLine(batch.storage[raw.range])
        {
            // Kept records are written as they were read (the first pass decoded them).
            return .keep(line.startIndex..<line.endIndex)
        }
        switch readTrajectory(batch, raw, stage: "dedup") {
        case .failure(let reject): return .reject(reject)  // cannot happen: the first pass decoded it
        case .success(let t):
            guard index.flag(ordinal, DedupIndex.taskDroppedFlag) else {
                // A record that spanned lines (a pretty-printed array element): compact JSON.
                return .keepJSON(t.json.serializedBytes(.compact))
            }
            let task = taskKey(t).map(describeTask) ?? ""
            let keptIDs = (index.taskKept[index.taskKeys[ordinal]] ?? []).map { JSON.string(index.id(Int($0))) }
            let limit = options.maxPerTask ?? 0
            return .drop(Drop(id: t.id, stage: "dedup", reason: "task-limit",
                              detail: "task \(task) already has \(limit) kept record\(limit == 1 ? "" : "s")",
                              details: ["task": .string(task), "limit": .number(JSONNumber(limit)), "kept": .array(keptIDs)]))
        }
    }

    /// A record's bytes without surrounding whitespace, when they fit on one line.
    static func oneLine(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let line = trimmed(bytes)
        let breaks = line.withUnsafeBytes { b in
            b.isEmpty ? false : memchr(b.baseAddress!, 0x0A, b.count) != nil || memchr(b.baseAddress!, 0x0D, b.count) != nil
        }
        return breaks ? nil : line
    }

    /// `bytes` without surrounding whitespace.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lo = bytes.startIndex, hi = bytes.endIndex
        while lo < hi, isJSONWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, isJSONWhitespace(bytes[hi - 1]) { hi -= 1 }
        return bytes[lo..<hi]
    }

    static func note(options: DedupOptions, stats: DedupStats, bytesPerRecord: Int, into ledger: inout Ledger) {
        var methods: [String] = []
        if options.exact { methods.append("exact (SHA-256 of the canonical form)") }
        if options.near {
            let observations = options.shingleObservations ? " + observations" : ""
            methods.append("near (\(options.ngram)-word shingles\(observations), \(options.bands) bands × \(options.rows) rows, seed \(options.seed), "
                + "estimated Jaccard ≥ \(fixed(options.threshold, 2)); LSH 50% point ≈ \(fixed(options.lshThreshold, 2)))")
        }
        if let n = options.maxPerTask { methods.append("at most \(n) per task") }
        ledger.note("dedup: " + (methods.isEmpty ? "nothing (all methods off)" : methods.joined(separator: "; ")))
        ledger.note("index: \(bytesPerRecord) bytes per record")
        ledger.count("clusters with duplicates", stats.clusters)
        ledger.count("clusters of exact copies only", stats.exactOnlyClusters)
        ledger.count("largest cluster", stats.largestCluster)
        if options.near {
            ledger.count("candidate pairs compared", stats.candidatePairs)
            ledger.count("candidate pairs similar", stats.similarPairs)
            ledger.count("bucket members past the representative limit", stats.bucketOverflow)
            ledger.count("records without shingles", stats.withoutShingles)
        }
        if options.maxPerTask != nil { ledger.count("tasks over the limit", stats.tasksOverLimit) }
    }

    /// `value` with `digits` decimals (deterministic, locale-free).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        let n = Int((value * Double(scale)).rounded())
        let frac = String(n % scale)
        return digits == 0 ? String(n) : "\(n / scale)." + String(repeating: "0", count: digits - frac.count) + frac
    }

    // MARK: - Input

    /// True for a regular file (which a second pass can read again); false for "-", pipes, FIFOs.
    static func isRereadable(_ path: String) -> Bool {
        if path == "-" { return false }
        var st = stat()
        return stat(path, &st) != 0 || (st.st_mode & S_IFMT) == S_IFREG  // a missing file fails later, when opened
    }

    /// Copies a stream (as is, compressed or not) to a temporary file and returns its path.
    static func spool(_ path: String, directory: String?) throws(IOError) -> String {
        let dir = directory ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array((dir + "/trajforge-dedup-spool-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        let spool = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard fd >= 0 else { throw IOError.errno(spool, "cannot create the spool file for \(path == "-" ? "standard input" : path)") }
        defer { close(fd) }
        let input = try FileSource(path: path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try input.read(into: buffer)
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = Glibc.write(fd, buffer.baseAddress! + done, n - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    let error = IOError.errno(spool, "cannot write the spool file")
                    unlink(spool)
                    throw error
                }
                done += w
            }
        }
        return spool
    }

    /// `openRecords`, with records and rejects naming `name` (standard input spooled to `path`).
    static func open(_ path: String, as name: String, limits: ReaderLimits) throws(IOError) -> OpenedInput {
        try openRecords(path, name: name, limits: limits)
    }
}

/// A reader's next batch, read on a worker while the others work on the current one.
final class ReadAhead: @unchecked Sendable {
    let reader: RecordReader
    var result: Result<RecordBatch?, IOError> = .success(nil)

    init(_ reader: RecordReader) { self.reader = reader }

    func read() {
        do throws(IOError) { result = .success(try reader.nextBatch()) } catch { result = .failure(error) }
    }

    func take() throws(IOError) -> RecordBatch? {
        defer { result = .success(nil) }
        return try result.get()
    }
}

/// One value per worker (a scanner and its buffers), each only ever used by its own worker.
final class WorkerState<T>: @unchecked Sendable {
    private let states: UnsafeMutableBufferPointer<T>

    init(count: Int, _ make: (Int) -> T) {
        states = .allocate(capacity: count)
        for w in 0..<count { (states.baseAddress! + w).initialize(to: make(w)) }
    }

    deinit {
        states.baseAddress!.deinitialize(count: states.count)
        states.deallocate()
    }

    func with<R>(_ worker: Int, _ body: (inout T) -> R) -> R { body(&states[worker]) }
}
