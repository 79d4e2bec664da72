// Allocation-free lookup tables for the hot loop: byte strings -> id, and (id, id) -> merge.
// Open addressing with linear probing; built once, read-only afterwards (hence @unchecked Sendable).

@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(truncatingIfNeeded: n)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= n {
        let v = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    if i < n {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            v |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ v) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
    }
    h = h &* 0xFF51_AFD7_ED55_8CCD
    return h ^ (h >> 32)
}

/// Immutable map from byte strings to non-negative Int32 values.
final class ByteStringTable: @unchecked Sendable {
    fileprivate struct Slot {
        var hash: UInt32
        var length: UInt32
        var offset: UInt32
        var value: Int32   // -1: empty
    }

    private let slots: UnsafeMutablePointer<Slot>
    private let mask: Int
    private let arena: UnsafeMutablePointer<UInt8>
    let count: Int

    /// Later entries with an equal key replace earlier ones.
    init(_ entries: [(key: [UInt8], value: Int32)]) {
        var capacity = 16
        while capacity < entries.count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        let slots = UnsafeMutablePointer<Slot>.allocate(capacity: capacity)
        slots.initialize(repeating: Slot(hash: 0, length: 0, offset: 0, value: -1), count: capacity)
        let total = entries.reduce(0) { $0 + $1.key.count }
        let arena = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        var used = 0
        var n = 0
        for (key, value) in entries {
            key.withUnsafeBufferPointer { kp in
                let base = kp.baseAddress ?? UnsafePointer(arena)
                let h = hashBytes(base, kp.count)
                var i = Int(truncatingIfNeeded: h) & mask
                while slots[i].value >= 0 {
                    if slots[i].hash == UInt32(truncatingIfNeeded: h) && Int(slots[i].length) == kp.count
                        && memoryEqual(arena + Int(slots[i].offset), base, kp.count) {
                        slots[i].value = value
                        return
                    }
                    i = (i + 1) & mask
                }
                (arena + used).update(from: base, count: kp.count)
                slots[i] = Slot(hash: UInt32(truncatingIfNeeded: h), length: UInt32(kp.count),
                                offset: UInt32(used), value: value)
                used += kp.count
                n += 1
            }
        }
        self.mask = mask
        self.slots = slots
        self.arena = arena
        count = n
    }

    deinit {
        slots.deallocate()
        arena.deallocate()
    }

    /// A reference-count-free view for the hot loop; valid while the table is alive.
    var view: ByteStringView { ByteStringView(slots: slots, mask: mask, arena: arena) }

    /// The value for the `n` bytes at `p`, or -1.
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 { view.lookup(p, n) }

    func lookup(_ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBufferPointer { bp in
            guard let b = bp.baseAddress else { return lookupEmpty() }
            return lookup(b, bp.count)
        }
    }

    private func lookupEmpty() -> Int32 {
        var dummy: UInt8 = 0
        return withUnsafePointer(to: &dummy) { lookup($0, 0) }
    }
}

/// Raw-pointer view of a `ByteStringTable` (no ARC traffic when shared by threads).
struct ByteStringView {
    fileprivate let slots: UnsafeMutablePointer<ByteStringTable.Slot>
    fileprivate let mask: Int
    fileprivate let arena: UnsafeMutablePointer<UInt8>

    /// The value for the `n` bytes at `p`, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let h = hashBytes(p, n)
        let tag = UInt32(truncatingIfNeeded: h)
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s.value < 0 { return -1 }
            if s.hash == tag && Int(s.length) == n && memoryEqual(arena + Int(s.offset), p, n) { return s.value }
            i = (i + 1) & mask
        }
    }
}

@inline(__always)
func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= n {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Immutable map from a pair of token ids to (merge rank, merged id).
final class PairTable: @unchecked Sendable {
    private let keys: UnsafeMutablePointer<UInt64>
    private let values: UnsafeMutablePointer<UInt64>
    private let mask: Int
    private let shift: UInt64
    let count: Int
    static let empty = UInt64.max

    /// Later entries with an equal pair replace earlier ones (as HF's HashMap collect does).
    init(_ entries: [(left: Int32, right: Int32, rank: UInt32, merged: Int32)]) {
        var capacity = 16
        var bits: UInt64 = 4
        while capacity < entries.count * 2 { capacity <<= 1; bits += 1 }
        mask = capacity - 1
        shift = 64 - bits
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: PairTable.empty, count: capacity)
        values = .allocate(capacity: capacity)
        values.initialize(repeating: 0, count: capacity)
        var n = 0
        for e in entries {
            let k = PairTable.key(e.left, e.right)
            var i = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while keys[i] != PairTable.empty && keys[i] != k { i = (i + 1) & mask }
            if keys[i] == PairTable.empty { n += 1 }
            keys[i] = k
            values[i] = UInt64(e.rank) << 32 | UInt64(UInt32(bitPattern: e.merged))
        }
        count = n
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    @inline(__always)
    static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    /// A reference-count-free view for the hot loop; valid while the table is alive.
    var view: PairView { PairView(keys: keys, values: values, mask: mask, shift: shift) }

    /// `rank << 32 | merged` for the pair, or `UInt64.max` if the pair does not merge.
    func lookup(_ a: Int32, _ b: Int32) -> UInt64 { view.lookup(a, b) }
}

/// Raw-pointer view of a `PairTable`.
struct PairView {
    let keys: UnsafeMutablePointer<UInt64>
    let values: UnsafeMutablePointer<UInt64>
    let mask: Int
    let shift: UInt64

    /// `rank << 32 | merged` for the pair, or `UInt64.max` if the pair does not merge.
    @inline(__always)
    func lookup(_ a: Int32, _ b: Int32) -> UInt64 {
        let k = PairTable.key(a, b)
        var i = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let kk = keys[i]
            if kk == k { return values[i] }
            if kk == PairTable.empty { return UInt64.max }
            i = (i + 1) & mask
        }
    }
}
