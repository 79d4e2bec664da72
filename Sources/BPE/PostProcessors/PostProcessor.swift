// Post-processor: what `addSpecialTokens: true` adds around an encoded sequence.
// Only the single-sequence TemplateProcessing template matters here (e.g. Llama 3's BOS); a ByteLevel
// post-processor only trims offsets in HF, and this library reports untrimmed, exact byte offsets.

struct PostProcessor: Sendable {
    /// Ids of the special tokens before and after the sequence in the single template.
    var prefix: [Int32] = []
    var suffix: [Int32] = []

    static let none = PostProcessor()
}
