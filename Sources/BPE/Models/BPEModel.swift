// The BPE model: turns one pre-token (raw bytes) into token ids.
//
// Semantics are those of HF tokenizers' `BPE` (and of tiktoken): optionally look the whole pre-token up
// in the vocabulary first (`ignore_merges`), else start from one symbol per byte and repeatedly apply
// the merge of lowest rank, leftmost first among equal ranks, until no adjacent pair merges.

/// Where token ids (and, when wanted, their byte ranges in the input) are collected.
struct TokenSink {
    var ids: [Int32] = []
    var offsets: [Range<Int>] = []
    let wantsOffsets: Bool

    init(wantsOffsets: Bool, capacity: Int = 0) {
        self.wantsOffsets = wantsOffsets
        ids.reserveCapacity(capacity)
        if wantsOffsets { offsets.reserveCapacity(capacity) }
    }

    @inline(__always)
    mutating func append(_ id: Int32, _ start: Int, _ end: Int) {
        ids.append(id)
        if wantsOffsets { offsets.append(start..<end) }
    }
}

/// The model's tables (immutable, shared by all threads). Encoding goes through `BPERun`, a struct of
/// raw pointers made once per encode call, so the hot loop does no reference counting on shared
/// objects (atomic retain/release from two cores would bounce cache lines and stop scaling).
final class BPEModel: @unchecked Sendable {
    /// Raw bytes of each vocabulary token -> id (tokens outside the byte-level alphabet are absent).
    let vocab: ByteStringTable
    let merges: PairTable
    /// Id of the single-byte token for each byte, or -1 (256 entries).
    private let byteIds: UnsafeMutablePointer<Int32>
    /// Byte length of each model token id (0 for ids without raw bytes).
    private let tokenLengths: UnsafeMutablePointer<Int32>
    let ignoreMerges: Bool
    let unkId: Int32
    let fuseUnk: Bool
    /// True when every byte has a token: then no unknown symbol can occur and results may be cached.
    let coversAllBytes: Bool
    private let cache = ThreadLocalWordCache()

    init(vocab: ByteStringTable, merges: PairTable, byteIds: [Int32], ignoreMerges: Bool,
         unkId: Int32, fuseUnk: Bool, tokenLengths: [Int32]) {
        self.vocab = vocab
        self.merges = merges
        self.byteIds = .allocate(capacity: 256)
        self.byteIds.initialize(from: byteIds, count: 256)
        self.tokenLengths = .allocate(capacity: max(tokenLengths.count, 1))
        self.tokenLengths.initialize(from: tokenLengths, count: tokenLengths.count)
        self.ignoreMerges = ignoreMerges
        self.unkId = unkId
        self.fuseUnk = fuseUnk
        self.coversAllBytes = !byteIds.contains(-1)
    }

    deinit {
        byteIds.deallocate()
        tokenLengths.deallocate()
    }

    /// The hot-loop view for this thread; valid while the model is alive.
    @inline(__always)
    func run() -> BPERun {
        BPERun(vocab: vocab.view, merges: merges.view, byteIds: byteIds, tokenLengths: tokenLengths,
               ignoreMerges: ignoreMerges, unkId: unkId, fuseUnk: fuseUnk, coversAllBytes: coversAllBytes,
               cache: coversAllBytes ? cache.current() : nil)
    }
}

/// One thread's handle on a `BPEModel` for the duration of an encode call.
struct BPERun {
    let vocab: ByteStringView
    let merges: PairView
    let byteIds: UnsafeMutablePointer<Int32>
    let tokenLengths: UnsafeMutablePointer<Int32>
    let ignoreMerges: Bool
    let unkId: Int32
    let fuseUnk: Bool
    let coversAllBytes: Bool
    /// This thread's word cache (touched by no other thread).
    let cache: WordCache?

    /// Pre-tokens longer than this use the heap-based merge loop (O(n log n)); shorter ones a linear scan.
    static let linearMergeLimit = 48

    /// Appends the tokens of the `n` bytes at `p`; `base` is the offset of `p` in the input.
    @inline(__always)
    func tokenize(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int, into sink: inout TokenSink) {
        if ignoreMerges {
            let id = vocab.lookup(p, n)
            if id >= 0 { sink.append(id, base, base + n); return }
        }
        if n == 1 && coversAllBytes {
            sink.append(byteIds[Int(p[0])], base, base + 1)
            return
        }
        if n <= WordCache.maxKeyLength, let cache {
            let h = hashBytes(p, n)
            if let hit = cache.lookup(p, n, hash: h) {
                appendCached(hit, base: base, into: &sink)
                return
            }
            let before = sink.ids.count
            merge(p, n, base: base, into: &sink)
            sink.ids.withUnsafeBufferPointer { all in
                cache.insert(p, n, hash: h, ids: UnsafeBufferPointer(rebasing: all[before...]))
            }
            return
        }
        merge(p, n, base: base, into: &sink)
    }

    @inline(__always)
    private func appendCached(_ ids: UnsafeBufferPointer<Int32>, base: Int, into sink: inout TokenSink) {
        if sink.wantsOffsets {
            var s = base
            for id in ids {
                let e = s + Int(tokenLengths[Int(id)])
                sink.append(id, s, e)
                s = e
            }
        } else {
            sink.ids.append(contentsOf: ids)
        }
    }

    /// Runs the merges over the bytes (no whole-word lookup, no cache).
    func merge(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int, into sink: inout TokenSink) {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: n + 1) { ids in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: n + 1) { starts in
                // Initial symbols: one per byte; bytes without a token become unk (fused if asked) or vanish.
                var m = 0
                var lastWasUnk = false
                do {
                    for i in 0..<n {
                        let id = byteIds[Int(p[i])]
                        if id >= 0 {
                            ids[m] = id; starts[m] = Int32(i); m += 1
                            lastWasUnk = false
                        } else if unkId >= 0 {
                            if fuseUnk && lastWasUnk { continue }
                            ids[m] = unkId; starts[m] = Int32(i); m += 1
                            lastWasUnk = true
                        }
                    }
                }
                guard m > 0 else { return }
                if m <= BPERun.linearMergeLimit {
                    m = mergeLinear(ids: ids, starts: starts, count: m)
                } else {
                    m = mergeHeap(ids: ids, starts: starts, count: m)
                }
                // Ends: the next symbol's start, or the end of the word. With dropped bytes the end of a
                // symbol is the start of the next kept one, as in HF (the gap belongs to no token).
                for k in 0..<m {
                    let s = Int(starts[k])
                    let e = k + 1 < m ? Int(starts[k + 1]) : n
                    sink.append(ids[k], base + s, base + e)
                }
            }
        }
    }

    /// Quadratic but allocation-free: best for short words.
    @inline(__always)
    private func mergeLinear(ids: UnsafeMutableBufferPointer<Int32>, starts: UnsafeMutableBufferPointer<Int32>,
                             count: Int) -> Int {
        var m = count
        if m < 2 { return m }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: m) { pv in
            for i in 0..<(m - 1) { pv[i] = merges.lookup(ids[i], ids[i + 1]) }
            while m > 1 {
                var best = UInt64.max
                var bi = -1
                for i in 0..<(m - 1) where pv[i] < best {
                    best = pv[i]
                    bi = i
                }
                if bi < 0 { break }
                ids[bi] = Int32(truncatingIfNeeded: UInt32(truncatingIfNeeded: best))
                var j = bi + 1
                while j < m - 1 {
                    ids[j] = ids[j + 1]
                    starts[j] = starts[j + 1]
                    pv[j] = pv[j + 1]
                    j += 1
                }
                m -= 1
                if bi > 0 { pv[bi - 1] = merges.lookup(ids[bi - 1], ids[bi]) }
                if bi < m - 1 { pv[bi] = merges.lookup(ids[bi], ids[bi + 1]) }
            }
            return m
        }
    }

    /// Priority-queue merge (as HF's `Word::merge_all`): O(n log n) for long words.
    private func mergeHeap(ids: UnsafeMutableBufferPointer<Int32>, starts: UnsafeMutableBufferPointer<Int32>,
                           count m: Int) -> Int {
        let cap = 3 * m + 4
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * m) { links in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: cap) { heap in
                // links[2i] = prev, links[2i+1] = next (-1: none); removed symbols get ids[i] = -1.
                var hn = 0
                @inline(__always) func push(_ v: UInt64) {
                    var i = hn
                    hn += 1
                    while i > 0 {
                        let parent = (i - 1) >> 1
                        if heap[parent] <= v { break }
                        heap[i] = heap[parent]
                        i = parent
                    }
                    heap[i] = v
                }
                @inline(__always) func pop() -> UInt64 {
                    let top = heap[0]
                    hn -= 1
                    let v = heap[hn]
                    var i = 0
                    while true {
                        var c = 2 * i + 1
                        if c >= hn { break }
                        if c + 1 < hn && heap[c + 1] < heap[c] { c += 1 }
                        if heap[c] >= v { break }
                        heap[i] = heap[c]
                        i = c
                    }
                    if hn > 0 { heap[i] = v }
                    return top
                }
                for i in 0..<m {
                    links[2 * i] = Int32(i - 1)
                    links[2 * i + 1] = i + 1 < m ? Int32(i + 1) : -1
                }
                for i in 0..<(m - 1) {
                    let v = merges.lookup(ids[i], ids[i + 1])
                    if v != UInt64.max { push(v & 0xFFFF_FFFF_0000_0000 | UInt64(i)) }
                }
                while hn > 0 {
                    let top = pop()
                    let rank = top >> 32
                    let pos = Int(top & 0xFFFF_FFFF)
                    if ids[pos] < 0 { continue }
                    let nx = Int(links[2 * pos + 1])
                    if nx < 0 { continue }
                    let v = merges.lookup(ids[pos], ids[nx])
                    if v == UInt64.max || v >> 32 != rank { continue }   // stale entry
                    ids[pos] = Int32(truncatingIfNeeded: UInt32(truncatingIfNeeded: v))
                    ids[nx] = -1
                    let nn = links[2 * nx + 1]
                    links[2 * pos + 1] = nn
                    if nn >= 0 { links[2 * Int(nn)] = Int32(pos) }
                    let pv = Int(links[2 * pos])
                    if pv >= 0 {
                        let w = merges.lookup(ids[pv], ids[pos])
                        if w != UInt64.max { push(w & 0xFFFF_FFFF_0000_0000 | UInt64(pv)) }
                    }
                    if nn >= 0 {
                        let w = merges.lookup(ids[pos], ids[Int(nn)])
                        if w != UInt64.max { push(w & 0xFFFF_FFFF_0000_0000 | UInt64(pos)) }
                    }
                }
                // Compact the surviving symbols in order.
                var k = 0
                var i = 0
                while i >= 0 && i < m {
                    ids[k] = ids[i]
                    starts[k] = starts[i]
                    k += 1
                    i = Int(links[2 * i + 1])
                }
                return k
            }
        }
    }
}
