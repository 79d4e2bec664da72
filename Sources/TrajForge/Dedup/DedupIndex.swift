/// What the first pass learns about one record (computed on a worker thread).
struct RecordFacts: Sendable {
    var decoded = false
    var verified = false
    var digest = Digest128(high: 0, low: 0)
    /// Empty when near-duplicate detection is off or the record has no shingles.
    var signature: [UInt16] = []
    var taskKey: UInt64?
    var id = ""
}

/// Cluster statistics for the ledger.
public struct DedupStats: Sendable, Equatable {
    /// Clusters (exact or near) with more than one record.
    public var clusters = 0
    /// Clusters whose members are all exact copies of one another.
    public var exactOnlyClusters = 0
    public var largestCluster = 0
    /// Candidate pairs (records sharing an LSH bucket) whose signatures were compared.
    public var candidatePairs = 0
    /// Candidate pairs whose estimated Jaccard passed the threshold.
    public var similarPairs = 0
    /// Bucket members not compared because the bucket already had its quota of representatives.
    public var bucketOverflow = 0
    /// Records with no shingle (no user/assistant text and no tool call): exact dedup only.
    public var withoutShingles = 0
    /// Tasks that had more than --max-per-task records.
    public var tasksOverLimit = 0
}

/// The in-memory index of a dedup run: a few hundred bytes per record (see `bytesPerRecord`),
/// never the records themselves. Filled on the coordinating thread during the first pass, then
/// clustered, then only read (by the second pass's workers).
final class DedupIndex: @unchecked Sendable {
    static let decodedFlag: UInt8 = 1
    static let verifiedFlag: UInt8 = 2
    static let signedFlag: UInt8 = 4
    static let taskFlag: UInt8 = 8
    static let taskDroppedFlag: UInt8 = 16
    /// The record's bytes have no line break (known from the first pass's scan).
    static let oneLineFlag: UInt8 = 32
    static let none = UInt32.max

    let permutations: Int
    /// Records per signature chunk (chunks avoid reallocating one huge array as the index grows).
    static let chunkRecords = 1 << 15

    private(set) var count = 0
    var flags: [UInt8] = []
    /// Ordinal of the first record with the same exact-form digest (itself when it is the first).
    var exactFirst: [UInt32] = []
    var firstByDigest: [Digest128: UInt32] = [:]
    var signatureChunks: [[UInt16]] = []
    var taskKeys: [UInt64] = []
    var idBytes: [UInt8] = []
    var idEnds: [Int] = []
    /// During clustering: union-find parents. Afterwards: each record's kept record.
    var keeper: [UInt32] = []
    /// Cluster size, for kept records of clusters of two or more.
    var clusterSize: [UInt32: UInt32] = [:]
    /// Kept records of tasks that hit the limit (at most 3 each), by task key.
    var taskKept: [UInt64: [UInt32]] = [:]
    var stats = DedupStats()

    init(permutations: Int) { self.permutations = permutations }

    func append(_ f: RecordFacts) {
        let ordinal = UInt32(count)
        precondition(count < Int(DedupIndex.none), "dedup handles at most 4,294,967,294 records per run")
        var flag: UInt8 = 0
        if f.decoded { flag |= DedupIndex.decodedFlag }
        if f.verified { flag |= DedupIndex.verifiedFlag }
        if !f.signature.isEmpty { flag |= DedupIndex.signedFlag }
        if f.taskKey != nil { flag |= DedupIndex.taskFlag }
        flags.append(flag)
        taskKeys.append(f.taskKey ?? 0)
        if f.decoded {
            if let first = firstByDigest[f.digest] {
                exactFirst.append(first)
            } else {
                firstByDigest[f.digest] = ordinal
                exactFirst.append(ordinal)
            }
        } else {
            exactFirst.append(ordinal)
        }
        if permutations > 0 {
            if count % DedupIndex.chunkRecords == 0 {
                var chunk: [UInt16] = []
                chunk.reserveCapacity(DedupIndex.chunkRecords * permutations)
                signatureChunks.append(chunk)
            }
            let last = signatureChunks.count - 1
            if f.signature.isEmpty {
                signatureChunks[last].append(contentsOf: repeatElement(0, count: permutations))
            } else {
                signatureChunks[last].append(contentsOf: f.signature)
            }
        }
        idBytes.append(contentsOf: f.id.utf8)
        idEnds.append(idBytes.count)
        count += 1
    }

    /// Appends the facts of a run of records (the next ones in input order).
    func append(_ run: FactsRun) {
        precondition(run.permutations == permutations)
        precondition(count + run.count < Int(DedupIndex.none), "dedup handles at most 4,294,967,294 records per run")
        flags.append(contentsOf: run.flags)
        taskKeys.append(contentsOf: run.taskKeys)
        for k in 0..<run.count {
            let ordinal = UInt32(count + k)
            if run.flags[k] & DedupIndex.decodedFlag == 0 {
                exactFirst.append(ordinal)
            } else if let first = firstByDigest[run.digests[k]] {
                exactFirst.append(first)
            } else {
                firstByDigest[run.digests[k]] = ordinal
                exactFirst.append(ordinal)
            }
        }
        if permutations > 0 {
            var k = 0
            while k < run.count {
                if (count + k) % DedupIndex.chunkRecords == 0 {
                    var chunk: [UInt16] = []
                    chunk.reserveCapacity(DedupIndex.chunkRecords * permutations)
                    signatureChunks.append(chunk)
                }
                // Up to the end of the run or of the current chunk.
                let take = min(run.count - k, DedupIndex.chunkRecords - (count + k) % DedupIndex.chunkRecords)
                signatureChunks[signatureChunks.count - 1].append(contentsOf: run.signatures[(k * permutations)..<((k + take) * permutations)])
                k += take
            }
        }
        let base = idBytes.count
        idBytes.append(contentsOf: run.idBytes)
        for end in run.idEnds { idEnds.append(base + end) }
        count += run.count
    }

    /// Bytes the index holds per record (arrays by element count, the digest table by entry).
    var bytesPerRecord: Int {
        guard count > 0 else { return 0 }
        let fixed = flags.count + 4 * exactFirst.count + 8 * taskKeys.count + 8 * idEnds.count + idBytes.count
            + 2 * permutations * count + 4 * count
        // A dictionary entry: 16-byte key + 4-byte value, at up to 75% load.
        let table = firstByDigest.count * 27
        return (fixed + table) / count
    }

    func flag(_ i: Int, _ f: UInt8) -> Bool { flags[i] & f != 0 }

    func id(_ i: Int) -> String {
        let start = i == 0 ? 0 : idEnds[i - 1]
        return String(decoding: idBytes[start..<idEnds[i]], as: UTF8.self)
    }

    func withSignature<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt16>) -> R) -> R {
        let chunk = i / DedupIndex.chunkRecords
        let start = (i % DedupIndex.chunkRecords) * permutations
        return signatureChunks[chunk].withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<(start + permutations)])) }
    }

    func agreements(_ i: Int, _ j: Int) -> Int {
        withSignature(i) { a in withSignature(j) { b in MinHasher.agreements(a, b) } }
    }

    // MARK: - Clustering

    func find(_ x: UInt32) -> UInt32 {
        var x = x
        while keeper[Int(x)] != x {
            let up = keeper[Int(keeper[Int(x)])]
            keeper[Int(x)] = up  // path halving
            x = up
        }
        return x
    }

    /// Joins two clusters; the smaller ordinal becomes the root, so the result never depends on
    /// the order of unions.
    func union(_ a: UInt32, _ b: UInt32) {
        let ra = find(a), rb = find(b)
        if ra == rb { return }
        if ra < rb { keeper[Int(rb)] = ra } else { keeper[Int(ra)] = rb }
    }

    /// Builds clusters (exact copies, then LSH candidates whose estimated Jaccard reaches
    /// `threshold`), picks each cluster's kept record, then applies the per-task limit.
    func resolve(exact: Bool, near: Bool, bands: Int, rows: Int, threshold: Double, representatives: Int, maxPerTask: Int?) {
        keeper = (0..<count).map { UInt32($0) }
        if exact {
            for i in 0..<count where exactFirst[i] != UInt32(i) { union(UInt32(i), exactFirst[i]) }
        }
        if near && permutations > 0 {
            lsh(bands: bands, rows: rows, threshold: threshold, representatives: representatives, exact: exact)
        }
        pickKept()
        if let maxPerTask { limitTasks(maxPerTask) }
    }

    /// Band by band: group records by the hash of their band, then compare each bucket member with
    /// the bucket's representatives (at most `representatives` of them: members that matched no
    /// earlier representative), so a bucket of k records costs at most k × representatives checks.
    func lsh(bands: Int, rows: Int, threshold: Double, representatives: Int, exact: Bool) {
        // With exact dedup on, one record per exact-copy group takes part (copies have the same
        // signature and are already in one cluster).
        var members: [UInt32] = []
        for i in 0..<count where flag(i, DedupIndex.decodedFlag) {
            let first = exactFirst[i] == UInt32(i)
            if !flag(i, DedupIndex.signedFlag) {
                if first || !exact { stats.withoutShingles += 1 }
                continue
            }
            if first || !exact { members.append(UInt32(i)) }
        }
        let n = members.count
        if n < 2 { return }
        let needed = Int((threshold * Double(permutations) - 1e-9).rounded(.up))
        var capacity = 1
        while capacity < 2 * n { capacity <<= 1 }
        let mask = capacity - 1
        var slotKeys = [UInt64](repeating: 0, count: capacity)
        var slotHeads = [UInt32](repeating: DedupIndex.none, count: capacity)
        var next = [UInt32](repeating: DedupIndex.none, count: n)
        var shared: [UInt32] = []
        var reps: [UInt32] = []
        reps.reserveCapacity(representatives)
        for band in 0..<bands {
            for s in 0..<capacity { slotHeads[s] = DedupIndex.none }
            shared.removeAll(keepingCapacity: true)
            // Insert from last to first so every bucket's chain runs in input order.
            for p in stride(from: n - 1, through: 0, by: -1) {
                let key = withSignature(Int(members[p])) { sig in
                    XXH64.hash(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(sig)[(band * rows * 2)..<((band + 1) * rows * 2)]))
                }
                var s = Int(truncatingIfNeeded: key) & mask
                while slotHeads[s] != DedupIndex.none && slotKeys[s] != key { s = (s + 1) & mask }
                if slotHeads[s] == DedupIndex.none {
                    slotKeys[s] = key
                } else if next[Int(slotHeads[s])] == DedupIndex.none {
                    // The bucket gets its second member: remember it (by slot).
                    shared.append(UInt32(s))
                }
                next[p] = slotHeads[s]
                slotHeads[s] = UInt32(p)
            }
            // Buckets in the order of their first member.
            var heads = shared.map { slotHeads[Int($0)] }
            heads.sort()
            for head in heads {
                reps.removeAll(keepingCapacity: true)
                var p = head
                while p != DedupIndex.none {
                    let x = members[Int(p)]
                    var linked = false
                    for r in reps {
                        if find(r) == find(x) {
                            linked = true
                            continue
                        }
                        stats.candidatePairs += 1
                        if agreements(Int(x), Int(r)) >= needed {
                            stats.similarPairs += 1
                            union(x, r)
                            linked = true
                        }
                    }
                    if !linked {
                        if reps.count < representatives { reps.append(x) } else { stats.bucketOverflow += 1 }
                    }
                    p = next[Int(p)]
                }
            }
            for p in 0..<n { next[p] = DedupIndex.none }
        }
    }

    /// Keep policy: in each cluster, the first verified record (outcome.success == true) in input
    /// order, else the first record. Afterwards `keeper[i]` is the kept record of i's cluster.
    func pickKept() {
        for i in 0..<count { keeper[i] = find(UInt32(i)) }
        var best = [UInt32](repeating: DedupIndex.none, count: count)
        var size = [UInt32](repeating: 0, count: count)
        for i in 0..<count {
            let root = Int(keeper[i])
            size[root] += 1
            let current = best[root]
            if current == DedupIndex.none || (!flag(Int(current), DedupIndex.verifiedFlag) && flag(i, DedupIndex.verifiedFlag)) {
                best[root] = UInt32(i)
            }
        }
        for i in 0..<count where size[i] > 1 {
            stats.clusters += 1
            stats.largestCluster = max(stats.largestCluster, Int(size[i]))
            clusterSize[best[i]] = size[i]
        }
        var mixed = Set<UInt32>()
        for i in 0..<count {
            let kept = best[Int(keeper[i])]
            keeper[i] = kept
            if exactFirst[i] != exactFirst[Int(kept)] { mixed.insert(kept) }
        }
        stats.exactOnlyClusters = stats.clusters - mixed.count
    }

    /// Keeps at most `limit` of each task's surviving records: verified ones first, then in input
    /// order; marks the others.
    func limitTasks(_ limit: Int) {
        var verifiedTotal: [UInt64: Int] = [:]
        for i in 0..<count where survives(i) && flag(i, DedupIndex.taskFlag) && flag(i, DedupIndex.verifiedFlag) {
            verifiedTotal[taskKeys[i], default: 0] += 1
        }
        var verifiedSeen: [UInt64: Int] = [:]
        var otherSeen: [UInt64: Int] = [:]
        var over = Set<UInt64>()
        for i in 0..<count where survives(i) && flag(i, DedupIndex.taskFlag) {
            let key = taskKeys[i]
            let rank: Int
            if flag(i, DedupIndex.verifiedFlag) {
                rank = verifiedSeen[key, default: 0]
                verifiedSeen[key] = rank + 1
            } else {
                rank = verifiedTotal[key, default: 0] + otherSeen[key, default: 0]
                otherSeen[key, default: 0] += 1
            }
            if rank >= limit {
                flags[i] |= DedupIndex.taskDroppedFlag
                over.insert(key)
            }
        }
        stats.tasksOverLimit = over.count
        for i in 0..<count where survives(i) && flag(i, DedupIndex.taskFlag) && !flag(i, DedupIndex.taskDroppedFlag) {
            let key = taskKeys[i]
            if over.contains(key), taskKept[key, default: []].count < 3 { taskKept[key, default: []].append(UInt32(i)) }
        }
    }

    /// A decoded record that is the kept record of its cluster (task limits aside).
    func survives(_ i: Int) -> Bool { flag(i, DedupIndex.decodedFlag) && keeper[i] == UInt32(i) }
}
