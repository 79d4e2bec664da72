import Foundation

// Shards are assembled in order by one thread and compressed on `threads` workers, each shard on
// its own, so the bytes of a shard never depend on the thread count or the scheduling. At most
// threads + 1 shards wait or run at once: memory stays near (threads + 2) x the shard size.

/// The records of one shard, in order, ready for a worker.
struct PendingShard: @unchecked Sendable {
    var index: Int
    /// Payloads back to back (JSONL: the shard's bytes exactly, newlines included).
    var storage: [UInt8]
    var ranges: [Range<Int>]
    /// Position of the shard's first record in the whole set (WebDataset positional keys).
    var firstPosition: Int
    /// The uncompressed size the shard will have.
    var uncompressedBytes: Int
    var layout: MDSLayout?
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

/// Collects records into shards by the format's size rule.
struct ShardAssembler {
    let format: ShardFormat
    let maxBytes: Int
    let maxRecords: Int?
    let layout: MDSLayout?
    let baseSize: Int
    private(set) var index = 0
    private(set) var position = 0
    var storage: [UInt8] = []
    var ranges: [Range<Int>] = []
    var size: Int

    init(format: ShardFormat, maxBytes: Int, maxRecords: Int?, layout: MDSLayout?) {
        self.format = format
        self.maxBytes = maxBytes
        self.maxRecords = maxRecords
        self.layout = layout
        baseSize = layout?.shardOverhead ?? 0
        size = baseSize
    }

    /// Adds a record; returns the shard it closed first, if it did not fit.
    mutating func add(_ payload: ArraySlice<UInt8>, size recordSize: Int) -> PendingShard? {
        let countFull = maxRecords.map { ranges.count >= $0 } ?? false
        let full: Bool
        switch format {
        case .mds:
            // mosaicml-streaming: `if size_limit < new_shard_size + new_sample_size: flush`, even when
            // the shard is still empty.
            full = maxBytes < size + recordSize || countFull
        case .jsonl:
            full = !ranges.isEmpty && (size + recordSize > maxBytes || countFull)
        case .webdataset:
            full = !ranges.isEmpty && (TarStreamWriter.streamBytes(members: size + recordSize) > maxBytes || countFull)
        }
        let closed = full ? take() : nil
        let start = storage.count
        storage.append(contentsOf: payload)
        if format == .jsonl { storage.append(0x0A) }
        ranges.append(start..<storage.count)
        size += recordSize
        position += 1
        return closed
    }

    /// The last shard (nil when it would be empty).
    mutating func finish() -> PendingShard? { ranges.isEmpty ? nil : take() }

    private mutating func take() -> PendingShard {
        let shard = PendingShard(index: index, storage: storage, ranges: ranges, firstPosition: position - ranges.count,
                                 uncompressedBytes: format == .webdataset ? TarStreamWriter.streamBytes(members: size) : size, layout: layout)
        index += 1
        storage = []
        storage.reserveCapacity(shard.storage.count)
        ranges = []
        size = baseSize
        return shard
    }
}

/// A fixed set of worker threads with a bounded queue.
final class ShardWorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [PendingShard] = []
    private var running = 0
    private var results: [ShardResult] = []
    private var failure: Error?
    private var closing = false
    private var alive = 0
    private let capacity: Int
    private let work: @Sendable (PendingShard) throws -> ShardResult

    init(threads: Int, work: @escaping @Sendable (PendingShard) throws -> ShardResult) {
        capacity = threads + 1
        self.work = work
        alive = threads
        for k in 0..<threads {
            let t = Thread { [self] in loop() }
            t.name = "trajforge-shard-\(k)"
            t.start()
        }
    }

    private func loop() {
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
            condition.unlock()
            let outcome: Result<ShardResult, Error>
            do { outcome = .success(try work(job)) } catch { outcome = .failure(error) }
            condition.lock()
            running -= 1
            switch outcome {
            case .success(let r): results.append(r)
            case .failure(let e): if failure == nil { failure = e }
            }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Queues a shard, waiting while the pool is full; throws the first worker failure.
    func submit(_ shard: PendingShard) throws {
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
        while alive > 0 { condition.wait() }
        let failure = self.failure
        let results = self.results
        condition.unlock()
        if let failure { throw failure }
        return results.sorted { $0.index < $1.index }
    }

    /// Stops the workers after their current shard (on an error in the producer).
    func cancel() {
        condition.lock()
        if failure == nil { failure = CancellationError() }
        closing = true
        queue.removeAll()
        condition.broadcast()
        while alive > 0 { condition.wait() }
        condition.unlock()
    }
}
