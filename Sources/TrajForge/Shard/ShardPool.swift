import Foundation

// Shards are assembled in order by one thread and compressed on `threads` workers, each shard on
// its own, so the bytes of a shard never depend on the thread count or the scheduling. At most
// threads + 1 shards wait or run at once: memory stays below (threads + 2) x the shard size (a
// streamed shard drops its records as its worker takes them). A worker's compressed bytes go to
// its file thread, which writes, hashes and fsyncs them while the worker compresses on.

/// The records of one shard, in order. The reading thread fills it (`ShardAssembler`) while a
/// worker may already be compressing the records published so far ("streaming", where the format
/// and codec allow it: see `ShardJobContext`); `close` fixes its size.
///
/// A record is a range of one of the feed's storages: an input batch's bytes kept as they are (a
/// JSONL line stored verbatim: no copy), a record's own encoded bytes, or a buffer the assembler
/// copied records into. A worker drops each storage once it has taken its records, so a streamed
/// shard does not hold its whole input.
final class ShardFeed: @unchecked Sendable {
    let index: Int
    /// Position of the shard's first record in the whole set (WebDataset positional keys).
    let firstPosition: Int
    let layout: MDSLayout?
    private let condition = NSCondition()
    private var storages: [[UInt8]] = []
    /// How many records each storage holds (its ranges follow on from the previous storage's).
    private var counts: [Int] = []
    private var ranges: [Range<Int>] = []
    private var closedSize: Int?
    private var aborted = false
    /// Uncompressed bytes the records published so far take in the shard.
    private var publishedBytes = 0

    init(index: Int, firstPosition: Int, layout: MDSLayout?) {
        self.index = index
        self.firstPosition = firstPosition
        self.layout = layout
    }

    /// Producer: appends records (`counts[k]` ranges of `storages[k]`, in order), which bring the
    /// shard to `size` uncompressed bytes.
    func publish(_ newStorages: [[UInt8]], _ newCounts: [Int], _ newRanges: [Range<Int>], size: Int) {
        guard !newStorages.isEmpty else { return }
        condition.lock()
        storages.append(contentsOf: newStorages)
        counts.append(contentsOf: newCounts)
        ranges.append(contentsOf: newRanges)
        publishedBytes = size
        condition.broadcast()
        condition.unlock()
    }

    /// Producer: no more records; the shard will have `uncompressedBytes` bytes.
    func close(uncompressedBytes: Int) {
        condition.lock()
        closedSize = uncompressedBytes
        condition.broadcast()
        condition.unlock()
    }

    /// The run failed elsewhere: a worker waiting for records stops.
    func abort() {
        condition.lock()
        aborted = true
        condition.broadcast()
        condition.unlock()
    }

    /// Worker: waits until the shard is closed; its record count and uncompressed size.
    func waitClosed() throws(IOError) -> (records: Int, uncompressedBytes: Int) {
        condition.lock()
        defer { condition.unlock() }
        while closedSize == nil && !aborted { condition.wait() }
        if aborted { throw IOError(path: "shard \(index)", "cancelled") }
        return (ranges.count, closedSize!)
    }

    /// Worker: waits until the shard is closed or its records take `bytes` bytes (before a tar
    /// stream's end padding). The record count and uncompressed size of a closed shard whose
    /// records stay under `bytes`; nil for a larger one, open or not (so the answer depends on the
    /// shard's records, never on timing).
    func waitClosed(unlessReaching bytes: Int) throws(IOError) -> (records: Int, uncompressedBytes: Int)? {
        condition.lock()
        defer { condition.unlock() }
        while closedSize == nil && publishedBytes < bytes && !aborted { condition.wait() }
        if aborted { throw IOError(path: "shard \(index)", "cancelled") }
        if publishedBytes >= bytes { return nil }
        return (ranges.count, closedSize!)
    }

    /// Worker: each storage with its records' ranges, in order, as they are published, until the
    /// shard is closed; each storage is dropped from the feed once handed over.
    func consume(_ body: (_ storage: [UInt8], _ ranges: ArraySlice<Range<Int>>) throws(IOError) -> Void) throws(IOError) {
        var next = 0
        var firstRange = 0
        while true {
            condition.lock()
            while next == storages.count && closedSize == nil && !aborted { condition.wait() }
            if aborted {
                condition.unlock()
                throw IOError(path: "shard \(index)", "cancelled")
            }
            let end = storages.count
            let taken = Array(storages[next..<end])
            for k in next..<end { storages[k] = [] }
            let takenCounts = Array(counts[next..<end])
            let rangeEnd = firstRange + takenCounts.reduce(0, +)
            let takenRanges = ranges[firstRange..<rangeEnd]
            let done = closedSize != nil
            condition.unlock()
            var at = takenRanges.startIndex
            for (k, storage) in taken.enumerated() {
                try body(storage, takenRanges[at..<(at + takenCounts[k])])
                at += takenCounts[k]
            }
            next = end
            firstRange = rangeEnd
            if done { return }
        }
    }

    /// Worker, after `waitClosed`: every record's length, in order (MDS offsets).
    func recordLengths() -> [Int] {
        condition.lock()
        defer { condition.unlock() }
        return ranges.map(\.count)
    }
}

/// What a worker made of a shard.
struct ShardResult: Sendable {
    var index: Int
    /// Where the file is now (the partial folder, or its final name for a reused shard).
    var path: String
    var records: Int
    var uncompressedBytes: Int
    var compressedBytes: Int
    var sha256: String
    var rawHashes: [String: String]
    var zipHashes: [String: String]
    var reused: Bool
}

/// A record's bytes for `ShardAssembler`: kept where they are (`storage` is held, not copied), or
/// copied (the caller reuses or frees their buffer).
enum ShardRecordBytes {
    case keep([UInt8], Range<Int>)
    case copy(ArraySlice<UInt8>)

    var bytes: ArraySlice<UInt8> {
        switch self {
        case .keep(let storage, let range): storage[range]
        case .copy(let slice): slice
        }
    }
}

/// Collects records into shards by the format's size rule.
struct ShardAssembler {
    let format: ShardFormat
    let maxBytes: Int
    let maxRecords: Int?
    let layout: MDSLayout?
    let baseSize: Int
    /// Records are handed to the feed in steps of about this many bytes.
    static let publishBytes = 1 << 20
    /// Copied records go into buffers of about this size.
    static let copyBufferBytes = 4 << 20
    private(set) var index = 0
    private(set) var position = 0
    var size: Int
    /// The open shard (nil before its first record).
    private(set) var feed: ShardFeed?
    private var recordCount = 0
    // Records not yet published to the feed.
    private var storages: [[UInt8]] = []
    private var counts: [Int] = []
    private var ranges: [Range<Int>] = []
    private var pendingBytes = 0
    /// The storage the last record came from (identity), so its neighbours join the same entry.
    private var lastBase: UnsafeRawPointer?
    /// Records copied since the last publish (`ownRanges` index into it).
    private var own: [UInt8] = []
    private var ownRanges: [Range<Int>] = []

    init(format: ShardFormat, maxBytes: Int, maxRecords: Int?, layout: MDSLayout?) {
        self.format = format
        self.maxBytes = maxBytes
        self.maxRecords = maxRecords
        self.layout = layout
        baseSize = layout?.shardOverhead ?? 0
        size = baseSize
    }

    /// Adds a record that adds `recordSize` uncompressed bytes to its shard. Returns the shard it
    /// closed first, if the record did not fit, and the shard it opened, if it is the first of one.
    mutating func add(_ record: ShardRecordBytes, size recordSize: Int) -> (closed: ShardFeed?, opened: ShardFeed?) {
        let countFull = maxRecords.map { recordCount >= $0 } ?? false
        let full: Bool
        switch format {
        case .mds:
            // mosaicml-streaming: `if size_limit < new_shard_size + new_sample_size: flush`, even when
            // the shard is still empty.
            full = maxBytes < size + recordSize || countFull
        case .jsonl:
            full = recordCount > 0 && (size + recordSize > maxBytes || countFull)
        case .webdataset:
            full = recordCount > 0 && (TarStreamWriter.streamBytes(members: size + recordSize) > maxBytes || countFull)
        }
        let closed = full ? take() : nil
        var opened: ShardFeed?
        if feed == nil {
            let f = ShardFeed(index: index, firstPosition: position, layout: layout)
            feed = f
            opened = f
        }
        let length: Int
        switch record {
        case .copy(let bytes):
            length = bytes.count
            if own.isEmpty { own.reserveCapacity(max(ShardAssembler.copyBufferBytes, length)) }
            let start = own.count
            own.append(contentsOf: bytes)
            ownRanges.append(start..<own.count)
            if own.count >= ShardAssembler.copyBufferBytes { sealOwn() }
        case .keep(let storage, let range):
            length = range.count
            let base = storage.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
            if !ownRanges.isEmpty { sealOwn() }
            if base == nil || base != lastBase {
                storages.append(storage)
                counts.append(0)
                lastBase = base
            }
            counts[counts.count - 1] += 1
            ranges.append(range)
        }
        pendingBytes += length
        recordCount += 1
        size += recordSize
        position += 1
        if pendingBytes >= ShardAssembler.publishBytes { publish() }
        return (closed, opened)
    }

    /// Closes the last shard (nil when none is open).
    mutating func finish() -> ShardFeed? { recordCount == 0 ? nil : take() }

    /// The copy buffer becomes a storage of its own.
    private mutating func sealOwn() {
        guard !ownRanges.isEmpty else { return }
        storages.append(own)
        counts.append(ownRanges.count)
        ranges.append(contentsOf: ownRanges)
        own = []
        ownRanges = []
        lastBase = nil
    }

    private mutating func publish() {
        sealOwn()
        feed?.publish(storages, counts, ranges, size: size - baseSize)
        storages = []
        counts = []
        ranges = []
        pendingBytes = 0
        lastBase = nil
    }

    private mutating func take() -> ShardFeed {
        publish()
        // MDS closes a shard before a sample that does not fit even when it is empty (as
        // mosaicml-streaming does): that shard has no records.
        let f = feed ?? ShardFeed(index: index, firstPosition: position, layout: layout)
        f.close(uncompressedBytes: format == .webdataset ? TarStreamWriter.streamBytes(members: size) : size)
        feed = nil
        index += 1
        recordCount = 0
        size = baseSize
        return f
    }
}

/// A fixed set of worker threads with a bounded queue. A worker takes a shard, compresses it and
/// takes the next one; the shard's result arrives later, from its file's thread (`deliver`).
final class ShardWorkerPool: @unchecked Sendable {
    typealias Deliver = @Sendable (Result<ShardResult, Error>) -> Void
    private let condition = NSCondition()
    private var queue: [ShardFeed] = []
    private var active: [ShardFeed] = []
    private var running = 0
    /// Shards taken whose result has not arrived yet.
    private var outstanding = 0
    private var results: [ShardResult] = []
    private var failure: Error?
    private var closing = false
    private var alive = 0
    private let capacity: Int
    private let work: @Sendable (ShardFeed, SerialThread, @escaping Deliver) throws -> Void
    /// Each worker's file thread: it writes, hashes and fsyncs the worker's shard files.
    private let fileThreads: [SerialThread]

    init(threads: Int, work: @escaping @Sendable (ShardFeed, SerialThread, @escaping Deliver) throws -> Void) {
        capacity = threads + 1
        self.work = work
        alive = threads
        fileThreads = (0..<threads).map { SerialThread(name: "trajforge-shard-file-\($0)") }
        for k in 0..<threads {
            let t = Thread { [self] in loop(fileThreads[k]) }
            t.name = "trajforge-shard-\(k)"
            t.start()
        }
    }

    deinit {
        for t in fileThreads { t.stop() }
    }

    private func loop(_ files: SerialThread) {
        while true {
            condition.lock()
            while queue.isEmpty && !closing && failure == nil { condition.wait() }
            if queue.isEmpty || failure != nil {
                // Closing with nothing left, or a shard failed: stop taking work.
                queue.removeAll()
                alive -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = queue.removeFirst()
            running += 1
            outstanding += 1
            active.append(job)
            condition.unlock()
            do {
                try work(job, files) { [self] outcome in deliver(outcome) }
            } catch {
                deliver(.failure(error))
            }
            condition.lock()
            running -= 1
            active.removeAll { $0 === job }
            condition.broadcast()
            condition.unlock()
        }
    }

    private func deliver(_ outcome: Result<ShardResult, Error>) {
        condition.lock()
        outstanding -= 1
        switch outcome {
        case .success(let r): results.append(r)
        case .failure(let e): if failure == nil { failure = e }
        }
        condition.broadcast()
        condition.unlock()
    }

    /// Queues a shard, waiting while the pool is full; throws the first worker failure.
    func submit(_ shard: ShardFeed) throws {
        condition.lock()
        defer { condition.unlock() }
        while queue.count + running >= capacity && failure == nil { condition.wait() }
        if let failure { throw failure }
        queue.append(shard)
        condition.broadcast()
    }

    /// Waits for every queued shard; returns the results in shard order.
    func finish() throws -> [ShardResult] {
        condition.lock()
        closing = true
        condition.broadcast()
        while alive > 0 || outstanding > 0 { condition.wait() }
        let failure = self.failure
        let results = self.results
        condition.unlock()
        for t in fileThreads { t.stop() }
        if let failure { throw failure }
        return results.sorted { $0.index < $1.index }
    }

    /// Stops the workers after their current shard (on an error in the producer).
    func cancel() {
        condition.lock()
        if failure == nil { failure = CancellationError() }
        closing = true
        queue.removeAll()
        for feed in active { feed.abort() }
        condition.broadcast()
        while alive > 0 || outstanding > 0 { condition.wait() }
        condition.unlock()
        for t in fileThreads { t.stop() }
    }
}
