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
        var fields: JSONObject
        var total: Int
        var supervised: Int
        var truncated: Bool
    }

    struct Failure: Error {
        var reason: String
        var detail: String
    }

    /// Token ids and supervision for `text` (UTF-8 `bytes`) with supervised byte `spans`. A token
    /// is supervised when its bytes overlap a span (the rule of HF's assistant-token masks).
    func tokenize(text: String, bytes: [UInt8], spans: [Range<Int>]) -> Result<Tokens, Failure> {
        let encoding = tokenizer.encodeWithOffsets(text, parseSpecial: true)
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
        var fields = JSONObject()
        fields["input_ids"] = .array(ids.map { .number(JSONNumber(Int($0))) })
        switch labels {
        case .labels:
            fields["labels"] = .array(zip(ids, supervised).map { .number(JSONNumber($1 ? Int($0) : -100)) })
        case .masks:
            fields["assistant_masks"] = .array(supervised.map { .number(JSONNumber($0 ? 1 : 0)) })
        }
        return .success(Tokens(fields: fields, total: ids.count, supervised: count, truncated: truncated))
    }
}
