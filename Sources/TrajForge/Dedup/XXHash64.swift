// XXH64 (Yann Collet's xxHash, 64-bit variant), written from the specification
// (github.com/Cyan4973/xxHash, doc/xxhash_spec.md). It is the stable hash of dedup: shingles,
// band keys and task keys are hashed with it, so signatures mean the same thing in every process
// and on every machine. Swift's `Hasher` is seeded per process and must never be used for this.

public enum XXH64 {
    static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    /// The XXH64 digest of `bytes` with `seed`.
    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    /// The XXH64 digest of a string's UTF-8 bytes.
    public static func hash(_ text: String, seed: UInt64 = 0) -> UInt64 {
        var text = text
        return text.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }

    static func round(_ acc: UInt64, _ lane: UInt64) -> UInt64 {
        var acc = acc &+ lane &* prime2
        acc = (acc << 31) | (acc >> 33)
        return acc &* prime1
    }

    static func merge(_ acc: UInt64, _ value: UInt64) -> UInt64 {
        let acc = acc ^ round(0, value)
        return acc &* prime1 &+ prime4
    }

    @inline(__always)
    static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    /// The XXH64 digest of the bytes at `buffer` with `seed`.
    public static func hash(_ buffer: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let count = buffer.count
        guard let base = buffer.baseAddress else { return finish(seed &+ prime5, length: 0, tail: buffer) }
        var p = 0
        var acc: UInt64
        if count >= 32 {
            var v1 = seed &+ prime1 &+ prime2
            var v2 = seed &+ prime2
            var v3 = seed
            var v4 = seed &- prime1
            while p + 32 <= count {
                v1 = round(v1, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
                v2 = round(v2, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self)))
                v3 = round(v3, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p + 16, as: UInt64.self)))
                v4 = round(v4, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p + 24, as: UInt64.self)))
                p += 32
            }
            acc = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            acc = merge(acc, v1)
            acc = merge(acc, v2)
            acc = merge(acc, v3)
            acc = merge(acc, v4)
        } else {
            acc = seed &+ prime5
        }
        acc = acc &+ UInt64(count)
        return finish(acc, length: count - p, tail: UnsafeRawBufferPointer(rebasing: buffer[p...]))
    }

    /// Consumes the last (< 32) bytes and avalanches.
    static func finish(_ accIn: UInt64, length: Int, tail: UnsafeRawBufferPointer) -> UInt64 {
        var acc = accIn
        var p = 0
        if length > 0, let base = tail.baseAddress {
            while p + 8 <= length {
                let lane = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self))
                acc ^= round(0, lane)
                acc = rotl(acc, 27) &* prime1 &+ prime4
                p += 8
            }
            if p + 4 <= length {
                let lane = UInt64(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
                acc ^= lane &* prime1
                acc = rotl(acc, 23) &* prime2 &+ prime3
                p += 4
            }
            while p < length {
                acc ^= UInt64(base.load(fromByteOffset: p, as: UInt8.self)) &* prime5
                acc = rotl(acc, 11) &* prime1
                p += 1
            }
        }
        acc ^= acc >> 33
        acc = acc &* prime2
        acc ^= acc >> 29
        acc = acc &* prime3
        acc ^= acc >> 32
        return acc
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny deterministic generator for MinHash parameters,
/// so a seed always gives the same permutations.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
