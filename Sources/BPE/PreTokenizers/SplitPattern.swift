// The Split pre-tokenizer: the regular expressions of Llama 3, Qwen2 and GPT-2, each hand-written as a
// scanner over UTF-8 (Swift Regex is ~100x slower). Every scanner reproduces the leftmost-alternative,
// backtracking semantics of the pattern it stands for, with `Isolated` behaviour: the patterns match
// every scalar, so the input is cut into consecutive pieces with no gaps.

/// A split pattern this library knows how to scan. Loading a tokenizer maps the exact regex string of
/// the file onto one of these; any other pattern is rejected at load time.
public enum SplitPattern: String, Sendable, CaseIterable {
    /// Llama 3 / tiktoken cl100k-style:
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// Qwen2 / Qwen2.5: the Llama 3 pattern with `\p{N}` (one digit per piece) instead of `\p{N}{1,3}`.
    case qwen2
    /// GPT-2 (ByteLevel with `use_regex: true`):
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2

    /// The regex source text as it appears in a `tokenizer.json` Split pre-tokenizer.
    public var regex: String {
        switch self {
        case .llama3:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .qwen2:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .gpt2:
            return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        }
    }

    /// The pattern whose regex source is exactly `source`, if any.
    public init?(regex source: String) {
        guard let p = SplitPattern.allCases.first(where: { $0.regex == source }) else { return nil }
        self = p
    }
}

/// Scans one piece of text (already split around added tokens) into pre-tokens.
struct PreTokenScanner {
    let pattern: SplitPattern

    /// Calls `body(start, end)` for each pre-token of `text`, in order, covering all of it.
    @inline(__always)
    func forEachPreToken(_ text: ClassifiedUTF8, _ body: (Int, Int) -> Void) {
        var i = 0
        let n = text.count
        switch pattern {
        case .llama3:
            while i < n { let e = tiktokenStyleEnd(text, i, maxDigits: 3); body(i, e); i = e }
        case .qwen2:
            while i < n { let e = tiktokenStyleEnd(text, i, maxDigits: 1); body(i, e); i = e }
        case .gpt2:
            while i < n { let e = gpt2End(text, i); body(i, e); i = e }
        }
    }

    // MARK: Llama 3 / Qwen2

    @inline(__always)
    private func tiktokenStyleEnd(_ t: ClassifiedUTF8, _ i: Int, maxDigits: Int) -> Int {
        let n = t.count
        let b = t.base[i]
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if b == 0x27, let e = contractionEnd(t, i + 1, caseInsensitive: true) { return e }
        let (c, len) = t.scalar(at: i)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c == .letter { return letterRunEnd(t, i + len) }
        if b != 0x0D && b != 0x0A && c != .number && i + len < n && t.scalar(at: i + len).cls == .letter {
            return letterRunEnd(t, i + len)
        }
        // \p{N}{1,maxDigits}
        if c == .number {
            var j = i + len
            var k = 1
            while k < maxDigits && j < n {
                let (c2, l2) = t.scalar(at: j)
                if c2 != .number { break }
                j += l2
                k += 1
            }
            return j
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        if b == 0x20 && i + 1 < n && t.scalar(at: i + 1).cls == .other {
            return newlineRunEnd(t, otherRunEnd(t, i + 1))
        }
        if c == .other { return newlineRunEnd(t, otherRunEnd(t, i)) }
        // c is whitespace. \s*[\r\n]+ : up to the last CR/LF of the whitespace run.
        var j = i
        var lastStart = i
        var afterLastNewline = -1
        while j < n {
            let (c2, l2) = t.scalar(at: j)
            if c2 != .whitespace { break }
            let bj = t.base[j]
            if bj == 0x0D || bj == 0x0A { afterLastNewline = j + 1 }
            lastStart = j
            j += l2
        }
        if afterLastNewline >= 0 { return afterLastNewline }
        // \s+(?!\S) then \s+
        return whitespaceEnd(n: n, runStart: i, runEnd: j, lastStart: lastStart)
    }

    // MARK: GPT-2

    @inline(__always)
    private func gpt2End(_ t: ClassifiedUTF8, _ i: Int) -> Int {
        let n = t.count
        let b = t.base[i]
        if b == 0x27, let e = contractionEnd(t, i + 1, caseInsensitive: false) { return e }
        var start = i
        if b == 0x20 && i + 1 < n {
            let c1 = t.scalar(at: i + 1).cls
            if c1 != .whitespace { start = i + 1 }
        }
        let (c, len) = t.scalar(at: start)
        switch c {
        case .letter: return letterRunEnd(t, start + len)
        case .number: return numberRunEnd(t, start + len)
        case .other: return otherRunEnd(t, start)
        case .whitespace:
            var j = i
            var lastStart = i
            while j < n {
                let (c2, l2) = t.scalar(at: j)
                if c2 != .whitespace { break }
                lastStart = j
                j += l2
            }
            return whitespaceEnd(n: n, runStart: i, runEnd: j, lastStart: lastStart)
        }
    }

    // MARK: Shared pieces

    /// `\s+(?!\S)|\s+` over a maximal whitespace run [runStart, runEnd) whose last scalar starts at lastStart.
    @inline(__always)
    private func whitespaceEnd(n: Int, runStart: Int, runEnd: Int, lastStart: Int) -> Int {
        if runEnd == n { return runEnd }           // (?!\S) holds at the end of the input
        if lastStart > runStart { return lastStart } // give back the last scalar, which is followed by \S
        return runEnd                               // \s+ (a single whitespace scalar)
    }

    /// After an apostrophe at `j - 1`: the end of `s|t|re|ve|m|ll|d` if one follows.
    /// Case-insensitive matching uses simple case folding: s/S/ſ (U+017F), the other letters ASCII only.
    @inline(__always)
    private func contractionEnd(_ t: ClassifiedUTF8, _ j: Int, caseInsensitive: Bool) -> Int? {
        let n = t.count
        guard j < n else { return nil }
        @inline(__always) func lower(_ x: UInt8) -> UInt8 { caseInsensitive && x >= 0x41 && x <= 0x5A ? x | 0x20 : x }
        let c = lower(t.base[j])
        switch c {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return j + 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            if j + 1 < n && lower(t.base[j + 1]) == UInt8(ascii: "e") { return j + 2 }
            return nil
        case UInt8(ascii: "l"):
            if j + 1 < n && lower(t.base[j + 1]) == UInt8(ascii: "l") { return j + 2 }
            return nil
        case 0xC5:
            // U+017F LATIN SMALL LETTER LONG S folds to 's'.
            if caseInsensitive && j + 1 < n && t.base[j + 1] == 0xBF { return j + 2 }
            return nil
        default:
            return nil
        }
    }

    @inline(__always)
    private func letterRunEnd(_ t: ClassifiedUTF8, _ from: Int) -> Int {
        var j = from
        while j < t.count {
            let (c, l) = t.scalar(at: j)
            if c != .letter { break }
            j += l
        }
        return j
    }

    @inline(__always)
    private func numberRunEnd(_ t: ClassifiedUTF8, _ from: Int) -> Int {
        var j = from
        while j < t.count {
            let (c, l) = t.scalar(at: j)
            if c != .number { break }
            j += l
        }
        return j
    }

    @inline(__always)
    private func otherRunEnd(_ t: ClassifiedUTF8, _ from: Int) -> Int {
        var j = from
        while j < t.count {
            let (c, l) = t.scalar(at: j)
            if c != .other { break }
            j += l
        }
        return j
    }

    /// `[\r\n]*`
    @inline(__always)
    private func newlineRunEnd(_ t: ClassifiedUTF8, _ from: Int) -> Int {
        var j = from
        while j < t.count && (t.base[j] == 0x0D || t.base[j] == 0x0A) { j += 1 }
        return j
    }
}
