import BPE
import ByteJSON

/// What to do with samples longer than `--max-tokens`.
public enum Truncation: String, Sendable, CaseIterable {
    /// Drop the sample (the default: nothing is silently cut).
    case drop
    /// Keep the first tokens (the end of the reply may be lost).
    case keepStart = "keep-start"
    /// Keep the last tokens (the reply survives, the oldest context goes).
    case keepEnd = "keep-end"
}

/// How supervision is written next to `input_ids`.
public enum LabelForm: String, Sendable, CaseIterable {
    /// `labels`: the token id where supervised, -100 elsewhere (HF / TRL / LLaMA-Factory).
    case labels
    /// `assistant_masks`: 1 where supervised, 0 elsewhere (HF `return_assistant_tokens_mask`).
    case masks
}

/// Turns a rendered sample into token ids and labels with an exact HF-compatible tokenizer.
/// The rendered text already holds its special tokens (the template writes BOS and turn markers),
/// so it is encoded with special-token parsing on and no added special tokens.
public struct TokenizationOptions: Sendable {
    public var tokenizer: Tokenizer
    public var maxTokens: Int?
    public var truncation: Truncation = .drop
    public var labels: LabelForm = .labels
    /// Each supervised span must end with this token (the end-of-turn), or the sample is dropped.
    public var endOfTurnIDs: Set<Int32>

    public init(tokenizer: Tokenizer, endOfTurn: [String]) {
        self.tokenizer = tokenizer
        endOfTurnIDs = Set(endOfTurn.compactMap { tokenizer.id(forToken: $0) })
    }

    struct Tokens {
        var ids: [Int32]
        var mask: [Bool]
        var labels: LabelForm
        var total: Int
        var supervised: Int
        var truncated: Bool

        /// `input_ids` and `labels` (or `assistant_masks`) as JSON values.
        var fields: JSONObject {
            var fields = JSONObject()
            fields["input_ids"] = .array(ids.map { .number(JSONNumber(Int($0))) })
            switch labels {
            case .labels: fields["labels"] = .array(zip(ids, mask).map { .number(JSONNumber($1 ? Int($0) : -100)) })
            case .masks: fields["assistant_masks"] = .array(mask.map { .number(JSONNumber($0 ? 1 : 0)) })
            }
            return fields
        }

        /// The same members as compact JSON text (`,"input_ids":[…],"labels":[…]`), written
        /// without building JSON values: samples carry thousands of ids each, so the text is
        /// formatted through a pointer into one buffer and appended once.
        func appendMembers(into out: inout [UInt8]) {
            // Per id at most 11 characters (an Int32 with its sign) and a comma, in each list.
            precondition(mask.count == ids.count, "a token without its label")
            let capacity = 64 + ids.count * 26
            let text = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                let start = buffer.baseAddress!
                var p = start
                func put(_ s: StaticString) {
                    p.update(from: s.utf8Start, count: s.utf8CodeUnitCount)
                    p += s.utf8CodeUnitCount
                }
                put(#","input_ids":["#)
                for k in ids.indices {
                    if k > 0 { put(",") }
                    writeDecimal(Int(ids[k]), &p)
                }
                switch labels {
                case .labels:
                    put(#"],"labels":["#)
                    for k in ids.indices {
                        if k > 0 { put(",") }
                        writeDecimal(mask[k] ? Int(ids[k]) : -100, &p)
                    }
                case .masks:
                    put(#"],"assistant_masks":["#)
                    for k in mask.indices {
                        if k > 0 { put(",") }
                        put(mask[k] ? "1" : "0")
                    }
                }
                put("]")
                count = p - start
            }
            out.append(contentsOf: text)
        }
    }

    struct Failure: Error {
        var reason: String
        var detail: String
    }

    /// Token ids and supervision for `text` (UTF-8 `bytes`) with supervised byte `spans`. A token
    /// is supervised when its bytes overlap a span (the rule of HF's assistant-token masks).
    /// `memo` (one per worker) skips re-encoding the pieces that samples of one conversation share.
    func tokenize(text: String, bytes: [UInt8], spans: [Range<Int>], memo: EncodingMemo? = nil) -> Result<Tokens, Failure> {
        let encoding = tokenizer.encodeWithOffsets(text, parseSpecial: true, memo: memo)
        var ids = encoding.ids
        var supervised = [Bool](repeating: false, count: ids.count)
        var s = 0
        for (k, r) in encoding.offsets.enumerated() {
            // Spans and tokens both run left to right: skip spans that end before this token.
            while s < spans.count, spans[s].upperBound <= r.lowerBound { s += 1 }
            if s < spans.count, r.overlaps(spans[s]) { supervised[k] = true }
        }
        // Each span's last supervised token must be an end-of-turn token.
        if !endOfTurnIDs.isEmpty {
            for (n, span) in spans.enumerated() {
                let last = encoding.offsets.indices.last { supervised[$0] && encoding.offsets[$0].overlaps(span) }
                guard let last, endOfTurnIDs.contains(ids[last]) else {
                    return .failure(Failure(reason: "end-of-turn-not-tokenized",
                                            detail: "supervised span \(n) does not end with an end-of-turn token id (\(endOfTurnIDs.sorted()))"))
                }
            }
        }
        var truncated = false
        if let max = maxTokens, ids.count > max {
            switch truncation {
            case .drop:
                return .failure(Failure(reason: "too-long", detail: "\(ids.count) tokens, more than --max-tokens \(max)"))
            case .keepStart:
                ids.removeSubrange(max...)
                supervised.removeSubrange(max...)
            case .keepEnd:
                ids.removeSubrange(..<(ids.count - max))
                supervised.removeSubrange(..<(supervised.count - max))
            }
            truncated = true
        }
        let count = supervised.filter { $0 }.count
        guard count > 0 else {
            return .failure(Failure(reason: "no-supervised-tokens",
                                    detail: truncated ? "truncation to \(maxTokens!) tokens (\(truncation.rawValue)) removed every supervised token" : "no token falls inside a supervised span"))
        }
        return .success(Tokens(ids: ids, mask: supervised, labels: labels, total: ids.count, supervised: count, truncated: truncated))
    }
}

/// Writes the decimal digits of `value` (as Swift's `String(value)`) at `p` and advances it; at
/// most 20 bytes. Two digits per step from a table.
@inline(__always)
func writeDecimal(_ value: Int, _ p: inout UnsafeMutablePointer<UInt8>) {
    var v = value.magnitude
    if value < 0 {
        p.pointee = UInt8(ascii: "-")
        p += 1
    }
    var digits = 1
    var limit: UInt = 10
    while v >= limit && digits < 19 {
        digits += 1
        limit &*= 10
    }
    if v >= limit { digits += 1 }  // 20 digits (beyond 10^19)
    var end = p + digits
    p = end
    decimalPairs.withUnsafeBufferPointer { pairs in
        while v >= 100 {
            let r = Int(v % 100)
            v /= 100
            end -= 2
            end[0] = pairs[2 * r]
            end[1] = pairs[2 * r + 1]
        }
        if v >= 10 {
            end -= 2
            end[0] = pairs[2 * Int(v)]
            end[1] = pairs[2 * Int(v) + 1]
        } else {
            end -= 1
            end[0] = UInt8(ascii: "0") + UInt8(v)
        }
    }
}

/// "00", "01", … "99" back to back.
private let decimalPairs: [UInt8] = (0..<100).flatMap { [UInt8(ascii: "0") + UInt8($0 / 10), UInt8(ascii: "0") + UInt8($0 % 10)] }
