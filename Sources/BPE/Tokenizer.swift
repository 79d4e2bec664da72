// The tokenizer: HF's pipeline of added-token splitting -> normalizer -> pre-tokenizer -> model (BPE)
// -> post-processor, and decoder for the way back. Loading lives in Loading/; this file is the hot path.

/// The result of `encodeWithOffsets`.
public struct Encoding: Sendable, Equatable {
    /// Token ids.
    public var ids: [Int32]
    /// For each token, its UTF-8 byte range in the *original* input string.
    ///
    /// Ranges are exact byte ranges, not widened to characters: byte-level BPE may cut a multi-byte
    /// character, and then one token ends and the next starts inside that character. Special tokens
    /// added by the post-processor (`addSpecialTokens`) have the empty range `0..<0`. An added token
    /// with `lstrip`/`rstrip` covers the whitespace it swallowed.
    ///
    /// Normalization (NFC for Qwen): where NFC leaves the text unchanged (always for ASCII, and for
    /// text already in NFC) the ranges are exact. Where NFC changed a stretch of text (a segment:
    /// a run of non-ASCII scalars plus the ASCII scalar before it), a token boundary falling strictly
    /// inside that segment's normalized form is widened to the segment's original bounds, so ranges of
    /// neighbouring tokens may overlap there; tokens outside changed segments stay exact.
    /// `normalizedOffsets` gives exact ranges into `normalizedText` in every case.
    public var offsets: [Range<Int>]
    /// The UTF-8 of the text the model saw (after NFC), or nil when normalization changed nothing.
    public var normalizedText: [UInt8]?
    /// For each token, its exact UTF-8 byte range in the normalized text (equal to `offsets` when
    /// `normalizedText` is nil).
    public var normalizedOffsets: [Range<Int>]
}

/// A byte-level BPE tokenizer producing the same ids as HF `tokenizers` for the files it accepts.
///
/// Immutable after loading and `Sendable`: one instance can encode from many threads at once (each
/// thread keeps its own small word cache).
public final class Tokenizer: Sendable {
    let model: BPEModel
    let normalizer: [NormalizerStep]
    let splitPattern: SplitPattern?
    /// Added tokens matched on the raw text (normalized: false) and on normalized text (normalized: true).
    let rawAddedTokens: AddedTokenMatcher
    let normalizedAddedTokens: AddedTokenMatcher
    let postProcessor: PostProcessor
    let decoder: DecoderKind
    let decodeTable: DecodeTable

    /// All added tokens, in file order.
    public let addedTokens: [AddedToken]
    /// id -> token string (byte-level form for model tokens, content for added tokens).
    let idToToken: [String?]
    let tokenToId: [String: Int32]
    let specialIds: Set<Int32>
    /// Size of the model vocabulary alone.
    public let modelVocabSize: Int

    struct Components {
        var model: BPEModel
        var modelTokens: [(String, Int32)]
        var normalizer: [NormalizerStep]
        var splitPattern: SplitPattern?
        var addedTokens: [AddedToken]
        var postProcessor: PostProcessor
        var decoder: DecoderKind
    }

    init(_ c: Components) {
        model = c.model
        normalizer = c.normalizer
        splitPattern = c.splitPattern
        addedTokens = c.addedTokens
        rawAddedTokens = AddedTokenMatcher(c.addedTokens.filter { !$0.normalized })
        normalizedAddedTokens = AddedTokenMatcher(c.addedTokens.filter { $0.normalized })
        postProcessor = c.postProcessor
        decoder = c.decoder
        modelVocabSize = c.modelTokens.count
        var maxId: Int32 = -1
        for (_, id) in c.modelTokens { maxId = max(maxId, id) }
        for t in c.addedTokens { maxId = max(maxId, t.id) }
        var table = [String?](repeating: nil, count: Int(maxId) + 1)
        var map: [String: Int32] = [:]
        map.reserveCapacity(c.modelTokens.count + c.addedTokens.count)
        for (t, id) in c.modelTokens {
            table[Int(id)] = t
            map[t] = id
        }
        for t in c.addedTokens {
            table[Int(t.id)] = t.content
            map[t.content] = t.id
        }
        idToToken = table
        tokenToId = map
        specialIds = Set(c.addedTokens.filter(\.special).map(\.id))
        decodeTable = DecodeTable(tokens: table, decoder: c.decoder)
    }

    // MARK: Lookups

    /// Number of distinct tokens, added tokens included (HF `get_vocab_size(with_added_tokens=True)`).
    public var vocabSize: Int { tokenToId.count }

    /// The id of a token string (byte-level form for model tokens, e.g. "Ġworld"; content for added tokens).
    public func id(forToken token: String) -> Int32? { tokenToId[token] }

    /// The token string of an id (byte-level form for model tokens), or nil for an unknown id.
    public func token(forId id: Int32) -> String? {
        guard id >= 0 && Int(id) < idToToken.count else { return nil }
        return idToToken[Int(id)]
    }

    /// The bytes `decode` produces for one id (raw bytes for model tokens; for added tokens, their
    /// content through the decoder, as HF does), or nil for an unknown id.
    public func tokenBytes(forId id: Int32) -> [UInt8]? {
        guard id >= 0 && Int(id) < idToToken.count, idToToken[Int(id)] != nil else { return nil }
        return Array(decodeTable.arena[Int(decodeTable.offsets[Int(id)])..<Int(decodeTable.offsets[Int(id) + 1])])
    }

    /// Ids of the added tokens flagged `special`, ascending.
    public var specialTokenIds: [Int32] { specialIds.sorted() }

    /// Whether `id` is a special added token (skipped by `decode(_:skipSpecial: true)`).
    public func isSpecial(_ id: Int32) -> Bool { specialIds.contains(id) }

    // MARK: Encoding

    /// Token ids of `text`.
    /// - Parameters:
    ///   - parseSpecial: true: text spelling a special token (e.g. `<|eot_id|>`) becomes that token; false:
    ///     it is tokenized as ordinary text (HF `encode_special_tokens = True`). Added tokens that are not
    ///     special (Qwen's `<tool_call>`) are split out in both cases, as HF does.
    ///   - addSpecialTokens: apply the post-processor template (Llama 3: prepend `<|begin_of_text|>`).
    public func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool = false) -> [Int32] {
        var sink = TokenSink(wantsOffsets: false, capacity: text.utf8.count / 3 + 4)
        run(text, parseSpecial: parseSpecial, addSpecialTokens: addSpecialTokens, sink: &sink, normalized: nil)
        return sink.ids
    }

    /// Token ids with their UTF-8 byte ranges; see `Encoding.offsets` for the exact rules.
    /// With a `memo`, pieces of text between added tokens that were encoded before (by calls
    /// with the same memo) are not encoded again: the per-turn samples of one conversation share
    /// all but their last pieces. The result is the same with or without it.
    public func encodeWithOffsets(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool = false, memo: EncodingMemo? = nil) -> Encoding {
        var sink = TokenSink(wantsOffsets: true, capacity: text.utf8.count / 3 + 4)
        var normalized = NormalizedTrace()
        normalized.memo = memo
        run(text, parseSpecial: parseSpecial, addSpecialTokens: addSpecialTokens, sink: &sink, normalized: &normalized)
        if normalized.changed {
            return Encoding(ids: sink.ids, offsets: normalized.originalOffsets, normalizedText: normalized.text,
                            normalizedOffsets: sink.offsets)
        }
        return Encoding(ids: sink.ids, offsets: sink.offsets, normalizedText: nil, normalizedOffsets: sink.offsets)
    }

    /// The text after the normalizer (NFC for Qwen), i.e. what `decode(encode(text))` gives back.
    public func normalize(_ text: String) -> String {
        guard !normalizer.isEmpty else { return text }
        var text = text
        return text.withUTF8 { buf -> String in
            guard let p = buf.baseAddress,
                  let piece = Normalization.apply(normalizer, p, buf.count) else { return String(decoding: buf, as: UTF8.self) }
            return String(decoding: piece.bytes, as: UTF8.self)
        }
    }

    /// Tracks the normalized text and original-coordinate offsets while encoding with offsets.
    struct NormalizedTrace {
        var text: [UInt8] = []
        var originalOffsets: [Range<Int>] = []
        var changed = false
        var memo: EncodingMemo?
    }

    private func run(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool,
                     sink: inout TokenSink, normalized: UnsafeMutablePointer<NormalizedTrace>?) {
        if addSpecialTokens {
            for id in postProcessor.prefix { appendSpecial(id, &sink, normalized) }
        }
        var text = text
        text.withUTF8 { buf in
            guard let p = buf.baseAddress, buf.count > 0 else { return }
            if rawAddedTokens.isEmpty {
                encodeText(p, buf.count, base: 0, parseSpecial: parseSpecial, sink: &sink, normalized: normalized)
                return
            }
            for s in rawAddedTokens.split(p, buf.count, parseSpecial: parseSpecial) {
                if s.token >= 0 {
                    if let normalized {
                        let nStart = normalized.pointee.text.count
                        normalized.pointee.text.append(contentsOf: UnsafeBufferPointer(start: p + s.range.lowerBound, count: s.range.count))
                        sink.append(s.token, nStart, normalized.pointee.text.count)
                        normalized.pointee.originalOffsets.append(s.range)
                    } else {
                        sink.append(s.token, s.range.lowerBound, s.range.upperBound)
                    }
                } else {
                    encodeText(p + s.range.lowerBound, s.range.count, base: s.range.lowerBound,
                               parseSpecial: parseSpecial, sink: &sink, normalized: normalized)
                }
            }
        }
        if addSpecialTokens {
            for id in postProcessor.suffix { appendSpecial(id, &sink, normalized) }
        }
    }

    private func appendSpecial(_ id: Int32, _ sink: inout TokenSink, _ normalized: UnsafeMutablePointer<NormalizedTrace>?) {
        sink.append(id, 0, 0)
        normalized?.pointee.originalOffsets.append(0..<0)
    }

    /// Normalizes one piece of raw text (between raw added tokens) and tokenizes it.
    /// `base` is the piece's offset in the original input.
    private func encodeText(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int, parseSpecial: Bool, sink: inout TokenSink,
                            normalized: UnsafeMutablePointer<NormalizedTrace>?) {
        let piece = normalizer.isEmpty ? nil : Normalization.apply(normalizer, p, n)
        guard let normalized else {
            // Ids only: offsets are not recorded, so coordinates do not matter.
            if let piece {
                piece.bytes.withUnsafeBufferPointer { nb in
                    encodeNormalized(nb.baseAddress!, nb.count, base: 0, parseSpecial: parseSpecial, sink: &sink)
                }
            } else {
                encodeNormalized(p, n, base: base, parseSpecial: parseSpecial, sink: &sink)
            }
            return
        }
        // With offsets: sink offsets are in normalized-text coordinates; original ones are mapped.
        let nBase = normalized.pointee.text.count
        let first = sink.ids.count
        let memo = parseSpecial && n >= EncodingMemo.minimumPiece ? normalized.pointee.memo : nil
        var key = EncodingMemo.Key(bytes: [])
        if let memo {
            key = EncodingMemo.Key(bytes: Array(UnsafeBufferPointer(start: p, count: n)))
            if let hit = memo.pieces[key] {
                if let bytes = hit.normalized {
                    normalized.pointee.changed = true
                    normalized.pointee.text.append(contentsOf: bytes)
                } else {
                    normalized.pointee.text.append(contentsOf: key.bytes)
                }
                for k in hit.ids.indices { sink.append(hit.ids[k], hit.offsets[k].lowerBound + nBase, hit.offsets[k].upperBound + nBase) }
                for r in hit.original { normalized.pointee.originalOffsets.append((r.lowerBound + base)..<(r.upperBound + base)) }
                return
            }
        }
        let firstOriginal = normalized.pointee.originalOffsets.count
        defer {
            if let memo {
                memo.store(key, EncodingMemo.Piece(
                    ids: Array(sink.ids[first...]),
                    offsets: sink.offsets[first...].map { ($0.lowerBound - nBase)..<($0.upperBound - nBase) },
                    original: normalized.pointee.originalOffsets[firstOriginal...].map { ($0.lowerBound - base)..<($0.upperBound - base) },
                    normalized: piece?.bytes))
            }
        }
        if let piece {
            normalized.pointee.changed = true
            normalized.pointee.text.append(contentsOf: piece.bytes)
            piece.bytes.withUnsafeBufferPointer { nb in
                encodeNormalized(nb.baseAddress!, nb.count, base: nBase, parseSpecial: parseSpecial, sink: &sink)
            }
            for k in first..<sink.ids.count {
                let r = sink.offsets[k]
                let s = piece.originalPosition(r.lowerBound - nBase, isEnd: false) + base
                let e = piece.originalPosition(r.upperBound - nBase, isEnd: true) + base
                normalized.pointee.originalOffsets.append(s..<max(s, e))
            }
        } else {
            normalized.pointee.text.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
            encodeNormalized(p, n, base: nBase, parseSpecial: parseSpecial, sink: &sink)
            for k in first..<sink.ids.count {
                let r = sink.offsets[k]
                normalized.pointee.originalOffsets.append((r.lowerBound - nBase + base)..<(r.upperBound - nBase + base))
            }
        }
    }

    /// Splits normalized added tokens out, pre-tokenizes and runs the model.
    @inline(__always)
    private func encodeNormalized(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int, parseSpecial: Bool, sink: inout TokenSink) {
        if normalizedAddedTokens.isEmpty {
            preTokenizeAndEncode(p, n, base: base, sink: &sink)
            return
        }
        for s in normalizedAddedTokens.split(p, n, parseSpecial: parseSpecial) {
            if s.token >= 0 {
                sink.append(s.token, base + s.range.lowerBound, base + s.range.upperBound)
            } else {
                preTokenizeAndEncode(p + s.range.lowerBound, s.range.count, base: base + s.range.lowerBound, sink: &sink)
            }
        }
    }

    @inline(__always)
    private func preTokenizeAndEncode(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int, sink: inout TokenSink) {
        guard n > 0 else { return }
        let run = model.run()
        guard let splitPattern else {
            run.tokenize(p, n, base: base, into: &sink)
            return
        }
        let text = ClassifiedUTF8(base: p, count: n, table: ScalarClassTable.bmp)
        PreTokenScanner(pattern: splitPattern).forEachPreToken(text) { s, e in
            run.tokenize(p + s, e - s, base: base + s, into: &sink)
        }
    }

    // MARK: Decoding

    /// The text of `ids`. With `skipSpecial`, special added tokens are left out (non-special added
    /// tokens such as Qwen's `<tool_call>` stay). Unknown ids are ignored, as in HF.
    public func decode(_ ids: [Int32], skipSpecial: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        var first = true
        for id in ids {
            guard id >= 0 && Int(id) < idToToken.count, idToToken[Int(id)] != nil else { continue }
            if skipSpecial && specialIds.contains(id) { continue }
            if decoder == .none && !first { out.append(0x20) }
            first = false
            let s = Int(decodeTable.offsets[Int(id)]), e = Int(decodeTable.offsets[Int(id) + 1])
            out.append(contentsOf: decodeTable.arena[s..<e])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Encodings of text pieces (the text between raw added tokens, before normalization) seen by
/// earlier `encodeWithOffsets` calls. Encoding a piece depends on its bytes alone, so a hit gives
/// exactly what encoding would. One memo per worker (not thread-safe); it empties itself past
/// `limit` bytes of remembered text.
public final class EncodingMemo {
    struct Piece {
        var ids: [Int32]
        /// Offsets in the normalized piece, and in the original piece.
        var offsets: [Range<Int>]
        var original: [Range<Int>]
        /// The normalized bytes, when the normalizer changed the piece.
        var normalized: [UInt8]?
    }

    /// Shorter pieces are encoded again (hashing them costs about what encoding does).
    static let minimumPiece = 32
    var pieces: [Key: Piece] = [:]

    /// Piece bytes, hashed in one call (Hasher per byte costs more than encoding short pieces).
    struct Key: Hashable {
        let bytes: [UInt8]
        func hash(into h: inout Hasher) { bytes.withUnsafeBytes { h.combine(bytes: $0) } }
    }
    var bytes = 0
    public let limit: Int

    public init(limit: Int = 16 << 20) { self.limit = limit }

    func store(_ key: Key, _ piece: Piece) {
        if bytes + key.bytes.count > limit {
            pieces.removeAll(keepingCapacity: true)
            bytes = 0
        }
        pieces[key] = piece
        bytes += key.bytes.count
    }
}
