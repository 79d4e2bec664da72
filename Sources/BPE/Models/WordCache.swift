// A bounded cache of pre-token bytes -> token ids, one per thread.
//
// The cache only memoizes the deterministic result of `BPEModel.tokenize`, so it never changes the
// output. Each thread gets its own instance (POSIX thread-specific data), so encoding from several
// threads needs no lock and shares no cache lines.
//
// Bounds: pre-tokens of at most 64 bytes, 16,384 entries, 1 MiB of keys and 256 Ki ids; when any
// bound is reached the cache is cleared. Memory: about 2.5 MB per thread that encodes, per tokenizer,
// freed when the thread exits (or, for the thread that frees the tokenizer, with the tokenizer; a
// cache of another still-running thread outlives a freed tokenizer until that thread exits).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

final class WordCache {
    private struct Slot {
        var hash: UInt32
        var keyLength: UInt16
        var idCount: UInt16     // 0: empty
        var keyOffset: UInt32
        var idOffset: UInt32
    }

    static let maxKeyLength = 64
    private static let slotCount = 1 << 15
    private static let maxEntries = slotCount / 2
    private static let keyCapacity = 1 << 20
    private static let idCapacity = 1 << 18

    let owner: UInt64
    private let slots: UnsafeMutablePointer<Slot>
    private let keys: UnsafeMutablePointer<UInt8>
    private let ids: UnsafeMutablePointer<Int32>
    private var entries = 0
    private var keysUsed = 0
    private var idsUsed = 0

    init(owner: UInt64) {
        self.owner = owner
        slots = .allocate(capacity: WordCache.slotCount)
        slots.initialize(repeating: Slot(hash: 0, keyLength: 0, idCount: 0, keyOffset: 0, idOffset: 0),
                         count: WordCache.slotCount)
        keys = .allocate(capacity: WordCache.keyCapacity)
        ids = .allocate(capacity: WordCache.idCapacity)
    }

    deinit {
        slots.deallocate()
        keys.deallocate()
        ids.deallocate()
    }

    /// The cached ids for the `n` bytes at `p` (n <= maxKeyLength), as a pointer and count valid until
    /// the next insert, or nil.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> UnsafeBufferPointer<Int32>? {
        let tag = UInt32(truncatingIfNeeded: h)
        var i = Int(truncatingIfNeeded: h >> 32) & (WordCache.slotCount - 1)
        while true {
            let s = slots[i]
            if s.idCount == 0 { return nil }
            if s.hash == tag && Int(s.keyLength) == n && memoryEqual(keys + Int(s.keyOffset), p, n) {
                return UnsafeBufferPointer(start: ids + Int(s.idOffset), count: Int(s.idCount))
            }
            i = (i + 1) & (WordCache.slotCount - 1)
        }
    }

    func insert(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, ids newIds: UnsafeBufferPointer<Int32>) {
        guard n <= WordCache.maxKeyLength, newIds.count > 0, newIds.count < Int(UInt16.max) else { return }
        if entries >= WordCache.maxEntries || keysUsed + n > WordCache.keyCapacity
            || idsUsed + newIds.count > WordCache.idCapacity {
            clear()
        }
        let tag = UInt32(truncatingIfNeeded: h)
        var i = Int(truncatingIfNeeded: h >> 32) & (WordCache.slotCount - 1)
        while slots[i].idCount != 0 {
            let s = slots[i]
            if s.hash == tag && Int(s.keyLength) == n && memoryEqual(keys + Int(s.keyOffset), p, n) { return }
            i = (i + 1) & (WordCache.slotCount - 1)
        }
        (keys + keysUsed).update(from: p, count: n)
        (ids + idsUsed).update(from: newIds.baseAddress!, count: newIds.count)
        slots[i] = Slot(hash: tag, keyLength: UInt16(n), idCount: UInt16(newIds.count),
                        keyOffset: UInt32(keysUsed), idOffset: UInt32(idsUsed))
        keysUsed += n
        idsUsed += newIds.count
        entries += 1
    }

    private func clear() {
        (slots).update(repeating: Slot(hash: 0, keyLength: 0, idCount: 0, keyOffset: 0, idOffset: 0),
                       count: WordCache.slotCount)
        entries = 0
        keysUsed = 0
        idsUsed = 0
    }
}

/// Hands each thread its own `WordCache` for one model.
final class ThreadLocalWordCache: @unchecked Sendable {
    private static let nextOwner = Atomic<UInt64>(1)

    private var key = pthread_key_t()
    private let valid: Bool
    private let owner: UInt64

    init() {
        owner = ThreadLocalWordCache.nextOwner.add(1, ordering: .relaxed).oldValue
        #if canImport(Darwin)
        valid = pthread_key_create(&key, { p in Unmanaged<WordCache>.fromOpaque(p).release() }) == 0
        #else
        valid = pthread_key_create(&key, { p in
            if let p { Unmanaged<WordCache>.fromOpaque(p).release() }
        }) == 0
        #endif
    }

    deinit {
        guard valid else { return }
        if let p = pthread_getspecific(key) {
            pthread_setspecific(key, nil)
            Unmanaged<WordCache>.fromOpaque(p).release()
        }
        pthread_key_delete(key)
    }

    /// This thread's cache, or nil when thread-specific storage is unavailable (then nothing is cached).
    @inline(__always)
    func current() -> WordCache? {
        guard valid else { return nil }
        if let p = pthread_getspecific(key) {
            let c = Unmanaged<WordCache>.fromOpaque(p).takeUnretainedValue()
            if c.owner == owner { return c }
            Unmanaged<WordCache>.fromOpaque(p).release()
        }
        let c = WordCache(owner: owner)
        pthread_setspecific(key, Unmanaged.passRetained(c).toOpaque())
        return c
    }
}
