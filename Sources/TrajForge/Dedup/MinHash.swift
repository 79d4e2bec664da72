/// MinHash signatures of shingle-hash sets.
///
/// Permutation i maps a shingle hash h to `a_i·h + b_i mod 2^64` (a_i odd, so it is a bijection),
/// with `a_i`, `b_i` drawn from SplitMix64(seed); the signature keeps, per permutation, 16 bits
/// (bits 32–47) of the smallest image ("b-bit MinHash", Li & König 2010). Two values agree by
/// chance with probability 2^-16, so the fraction of equal positions estimates the Jaccard
/// similarity with a bias below 0.00002, and a record's signature takes 2 bytes per permutation.
public struct MinHasher: Sendable {
    public let permutations: Int
    public let seed: UInt64
    let multipliers: [UInt64]
    let offsets: [UInt64]

    public init(permutations: Int, seed: UInt64) {
        precondition(permutations >= 1, "at least one permutation")
        self.permutations = permutations
        self.seed = seed
        var rng = SplitMix64(seed: seed)
        var a: [UInt64] = []
        var b: [UInt64] = []
        for _ in 0..<permutations {
            a.append(rng.next() | 1)
            b.append(rng.next())
        }
        multipliers = a
        offsets = b
    }

    /// Writes the signature of `hashes` (repeats allowed, at least one) into `out[0..<permutations]`.
    public func signature(of hashes: UnsafeBufferPointer<UInt64>, into out: UnsafeMutableBufferPointer<UInt16>) {
        precondition(!hashes.isEmpty && out.count >= permutations)
        multipliers.withUnsafeBufferPointer { a in
            offsets.withUnsafeBufferPointer { b in
                var i = 0
                // Four permutations at a time: independent minimums keep the multiplier busy.
                while i + 4 <= permutations {
                    let a0 = a[i], a1 = a[i + 1], a2 = a[i + 2], a3 = a[i + 3]
                    let b0 = b[i], b1 = b[i + 1], b2 = b[i + 2], b3 = b[i + 3]
                    var m0 = UInt64.max, m1 = UInt64.max, m2 = UInt64.max, m3 = UInt64.max
                    for h in hashes {
                        m0 = min(m0, a0 &* h &+ b0)
                        m1 = min(m1, a1 &* h &+ b1)
                        m2 = min(m2, a2 &* h &+ b2)
                        m3 = min(m3, a3 &* h &+ b3)
                    }
                    out[i] = UInt16(truncatingIfNeeded: m0 >> 32)
                    out[i + 1] = UInt16(truncatingIfNeeded: m1 >> 32)
                    out[i + 2] = UInt16(truncatingIfNeeded: m2 >> 32)
                    out[i + 3] = UInt16(truncatingIfNeeded: m3 >> 32)
                    i += 4
                }
                while i < permutations {
                    var m = UInt64.max
                    for h in hashes { m = min(m, a[i] &* h &+ b[i]) }
                    out[i] = UInt16(truncatingIfNeeded: m >> 32)
                    i += 1
                }
            }
        }
    }

    /// The signature of `hashes` (at least one) as an array.
    public func signature(of hashes: [UInt64]) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: permutations) { out, count in
            hashes.withUnsafeBufferPointer { signature(of: $0, into: out) }
            count = permutations
        }
    }

    /// How many positions of two signatures agree.
    public static func agreements(_ x: UnsafeBufferPointer<UInt16>, _ y: UnsafeBufferPointer<UInt16>) -> Int {
        var equal = 0
        for i in 0..<min(x.count, y.count) where x[i] == y[i] { equal += 1 }
        return equal
    }

    /// The estimated Jaccard similarity of two signatures: the fraction of agreeing positions.
    public static func estimate(_ x: [UInt16], _ y: [UInt16]) -> Double {
        x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in Double(agreements(a, b)) / Double(max(1, min(a.count, b.count))) } }
    }
}
