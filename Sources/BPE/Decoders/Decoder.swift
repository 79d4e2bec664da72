// Decoders: ids -> text.

enum DecoderKind: Sendable {
    /// GPT-2 ByteLevel: each token's characters map back to bytes; a token with a character outside the
    /// byte-level alphabet contributes its own UTF-8 instead. Invalid UTF-8 becomes U+FFFD.
    case byteLevel
    /// No decoder: tokens joined with a space (HF's behaviour without a decoder).
    case none
}

/// Per-id decoded bytes, flattened: token `id` is `arena[offsets[id]..<offsets[id + 1]]`.
struct DecodeTable: Sendable {
    var arena: [UInt8] = []
    var offsets: [Int32] = [0]

    init(tokens: [String?], decoder: DecoderKind) {
        arena.reserveCapacity(tokens.count * 6)
        offsets.reserveCapacity(tokens.count + 1)
        for t in tokens {
            if let t {
                switch decoder {
                case .byteLevel:
                    if let raw = ByteLevel.bytes(ofToken: t) { arena.append(contentsOf: raw) } else { arena.append(contentsOf: t.utf8) }
                case .none:
                    arena.append(contentsOf: t.utf8)
                }
            }
            offsets.append(Int32(arena.count))
        }
    }
}
