// Loading a tiktoken rank file (`<base64 token bytes> <rank>` per line), e.g. Meta's Llama 3
// `tokenizer.model` or Qwen's `qwen.tiktoken`, with caller-given special tokens and split pattern.
//
// tiktoken merges the adjacent pair whose concatenation has the lowest rank. That is BPE where every
// split (a, b) of a token t, with a and b both tokens, is a merge of rank rank(t) producing t; tiktoken
// also looks the whole piece up first (`ignore_merges`).

extension Tokenizer {
    /// Loads a tiktoken rank file.
    /// - Parameters:
    ///   - specialTokens: (content, id) of each special token; they are split out of the text before
    ///     pre-tokenization (when `parseSpecial` is true) and skipped by `decode(_:skipSpecial: true)`.
    ///   - pattern: the split pattern (`.llama3` for Llama 3, `.qwen2` for Qwen2/2.5).
    ///   - normalizer: e.g. `[.nfc]` for Qwen (HF's Qwen tokenizer applies NFC; raw tiktoken does not).
    ///   - bosTokens: ids prepended by `addSpecialTokens: true` (Llama 3: `[128000]`).
    public convenience init(tiktokenPath path: String, specialTokens: [(String, Int32)], pattern: SplitPattern,
                            normalizer: [NormalizerStep] = [], bosTokens: [Int32] = []) throws {
        try self.init(tiktokenRanks: try readFile(path), specialTokens: specialTokens, pattern: pattern,
                      normalizer: normalizer, bosTokens: bosTokens)
    }

    /// Loads tiktoken ranks from the bytes of a rank file; see `init(tiktokenPath:...)`.
    public convenience init(tiktokenRanks data: [UInt8], specialTokens: [(String, Int32)], pattern: SplitPattern,
                            normalizer: [NormalizerStep] = [], bosTokens: [Int32] = []) throws {
        var entries: [(key: [UInt8], value: Int32)] = []
        var lineNumber = 0
        var i = 0
        let n = data.count
        while i < n {
            lineNumber += 1
            var e = i
            while e < n && data[e] != 0x0A { e += 1 }
            var line = data[i..<e]
            i = e + 1
            if line.last == 0x0D { line = line.dropLast() }
            if line.isEmpty { continue }
            guard let space = line.firstIndex(of: 0x20) else {
                throw BPEError.malformed("tiktoken line \(lineNumber): no space between token and rank")
            }
            guard let bytes = base64Decode(line[line.startIndex..<space]) else {
                throw BPEError.malformed("tiktoken line \(lineNumber): invalid base64")
            }
            guard let rank = Int32(String(decoding: line[(space + 1)...], as: UTF8.self)), rank >= 0 else {
                throw BPEError.malformed("tiktoken line \(lineNumber): invalid rank")
            }
            entries.append((bytes, rank))
        }
        let table = ByteStringTable(entries)
        var merges: [(left: Int32, right: Int32, rank: UInt32, merged: Int32)] = []
        merges.reserveCapacity(entries.count * 4)
        for (bytes, rank) in entries where bytes.count >= 2 {
            bytes.withUnsafeBufferPointer { bp in
                let p = bp.baseAddress!
                for k in 1..<bp.count {
                    let a = table.lookup(p, k)
                    if a < 0 { continue }
                    let b = table.lookup(p + k, bp.count - k)
                    if b < 0 { continue }
                    merges.append((a, b, UInt32(rank), rank))
                }
            }
        }
        let tokens = entries.map { (ByteLevel.token(ofBytes: $0.key), $0.value) }
        let model = HFLoader.buildModel(tokens: tokens, merges: merges, ignoreMerges: true, unkId: -1, fuseUnk: false)
        let added = specialTokens.map { AddedToken(id: $0.1, content: $0.0, normalized: false, special: true) }
        self.init(Components(model: model, modelTokens: tokens, normalizer: normalizer, splitPattern: pattern,
                             addedTokens: added, postProcessor: PostProcessor(prefix: bosTokens, suffix: []),
                             decoder: .byteLevel))
    }
}

/// Standard base64 (with optional `=` padding); nil on any invalid character.
func base64Decode(_ s: ArraySlice<UInt8>) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(s.count * 3 / 4)
    var acc: UInt32 = 0
    var bits = 0
    for c in s {
        let v: UInt32
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "+"): v = 62
        case UInt8(ascii: "/"): v = 63
        case UInt8(ascii: "="): continue
        default: return nil
        }
        acc = acc << 6 | v
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
        }
    }
    return out
}
