// ByteLevel (GPT-2) byte <-> unicode mapping.
//
// The ByteLevel pre-tokenizer maps every byte of a pre-token to one printable character; the model's
// vocabulary and merges are written in that alphabet. The mapping is a bijection, so this library runs
// BPE directly on raw bytes and converts the vocabulary once, at load time.

enum ByteLevel {
    /// `byteToChar[b]` is the character standing for byte `b`.
    static let byteToChar: [Unicode.Scalar] = {
        var bs: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Unicode.Scalar(UInt32(c))! }
        return table
    }()

    /// Inverse of `byteToChar`, indexed by scalar value (all mapped scalars are < 0x144).
    static let charToByte: [Int16] = {
        var t = [Int16](repeating: -1, count: 0x144)
        for (b, c) in byteToChar.enumerated() { t[Int(c.value)] = Int16(b) }
        return t
    }()

    /// The raw bytes a byte-level token string stands for, or nil if it contains a character outside
    /// the byte-level alphabet.
    static func bytes(ofToken token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            let v = Int(s.value)
            guard v < charToByte.count, charToByte[v] >= 0 else { return nil }
            out.append(UInt8(charToByte[v]))
        }
        return out
    }

    /// The byte-level string of raw bytes (for id <-> token string lookups).
    static func token(ofBytes bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToChar[Int(b)]) }
        return String(s)
    }
}
