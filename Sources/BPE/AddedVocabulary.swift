// Added tokens: matched in the text before normalization and pre-tokenization, as HF's
// `AddedVocabulary` does (leftmost-longest, non-overlapping; `single_word`, `lstrip`, `rstrip`).

/// A token added on top of the model vocabulary (`added_tokens` in tokenizer.json).
public struct AddedToken: Sendable, Equatable {
    public var id: Int32
    public var content: String
    /// Only match when not surrounded by word characters (alphanumeric or `_`).
    public var singleWord: Bool
    /// Also swallow the whitespace on the left of the match.
    public var lstrip: Bool
    /// Also swallow the whitespace on the right of the match.
    public var rstrip: Bool
    /// Match against the normalized text (true) or the raw text (false).
    public var normalized: Bool
    /// Special tokens can be left unparsed (`parseSpecial: false`) and skipped when decoding.
    public var special: Bool

    public init(id: Int32, content: String, singleWord: Bool = false, lstrip: Bool = false,
                rstrip: Bool = false, normalized: Bool = false, special: Bool = true) {
        self.id = id
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }
}

/// One piece of split input: either plain text to tokenize, or one added token.
struct AddedSplit {
    var range: Range<Int>
    var token: Int32   // -1: plain text
}

/// Leftmost-longest matcher over a set of added tokens (a byte trie).
final class AddedTokenMatcher: Sendable {
    private struct Node: Sendable {
        var children: [(byte: UInt8, node: Int32)] = []
        var token = -1   // index into `tokens`, or -1
    }

    private let nodes: [Node]
    private let firstByte: [Bool]
    let tokens: [AddedToken]

    var isEmpty: Bool { tokens.isEmpty }

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens
        var nodes = [Node()]
        var firstByte = [Bool](repeating: false, count: 256)
        for (index, t) in tokens.enumerated() where !t.content.isEmpty {
            var node = 0
            for b in t.content.utf8 {
                if let next = nodes[node].children.first(where: { $0.byte == b }) {
                    node = Int(next.node)
                } else {
                    nodes.append(Node())
                    nodes[node].children.append((b, Int32(nodes.count - 1)))
                    node = nodes.count - 1
                }
            }
            if nodes[node].token < 0 { nodes[node].token = index }   // first declaration wins
            firstByte[Int(t.content.utf8.first!)] = true
        }
        self.nodes = nodes
        self.firstByte = firstByte
    }

    /// Longest token starting at `i`, as (token index, end), or nil.
    @inline(__always)
    private func longest(_ p: UnsafePointer<UInt8>, _ n: Int, at i: Int) -> (Int, Int)? {
        var node = 0
        var best: (Int, Int)?
        var j = i
        while j < n {
            guard let next = nodes[node].children.first(where: { $0.byte == p[j] }) else { break }
            node = Int(next.node)
            j += 1
            if nodes[node].token >= 0 { best = (nodes[node].token, j) }
        }
        return best
    }

    /// Splits `n` bytes at `p` around added tokens. Special tokens are ignored when `parseSpecial` is
    /// false (HF `encode_special_tokens = true`); non-special added tokens are always split out.
    func split(_ p: UnsafePointer<UInt8>, _ n: Int, parseSpecial: Bool) -> [AddedSplit] {
        var splits: [AddedSplit] = []
        var startOffset = 0
        var i = 0
        while i < n {
            guard firstByte[Int(p[i])], let (index, matchEnd) = longest(p, n, at: i) else { i += 1; continue }
            let t = tokens[index]
            var start = i
            var stop = matchEnd
            i = matchEnd   // non-overlapping: the search resumes after this match even if it is discarded
            if t.special && !parseSpecial { continue }
            if t.singleWord {
                let startSpace = start == 0 || !Self.endsWithWordCharacter(p, start)
                let stopSpace = stop == n || !Self.startsWithWordCharacter(p + stop, n - stop)
                if !startSpace || !stopSpace { continue }
            }
            if t.lstrip {
                start = max(Self.leftmostSpaceAtEnd(p, start), startOffset)
            }
            if t.rstrip {
                stop += Self.rightmostSpaceAtStart(p + stop, n - stop)
            }
            if startOffset < start { splits.append(AddedSplit(range: startOffset..<start, token: -1)) }
            splits.append(AddedSplit(range: start..<stop, token: t.id))
            startOffset = stop
        }
        if startOffset < n || splits.isEmpty {
            splits.append(AddedSplit(range: startOffset..<n, token: -1))
        }
        return splits
    }

    // MARK: Word and space helpers (scalar-level, like Rust's `char` functions)

    private static func scalars(_ p: UnsafePointer<UInt8>, _ n: Int) -> String.UnicodeScalarView {
        String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self).unicodeScalars
    }

    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        if s == "_" { return true }
        let pr = s.properties
        if pr.isAlphabetic { return true }
        switch pr.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    private static func endsWithWordCharacter(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard let last = scalars(p, n).last else { return false }
        return isWordCharacter(last)
    }

    private static func startsWithWordCharacter(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard let first = scalars(p, min(n, 4)).first else { return false }
        return isWordCharacter(first)
    }

    /// Start of the whitespace run that ends the first `n` bytes at `p` (n if none).
    private static func leftmostSpaceAtEnd(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var pos = n
        let view = scalars(p, n)
        var idx = view.endIndex
        while idx > view.startIndex {
            let prev = view.index(before: idx)
            let s = view[prev]
            if !s.properties.isWhitespace { break }
            pos -= String(s).utf8.count
            idx = prev
        }
        return pos
    }

    /// Byte length of the whitespace run starting the `n` bytes at `p`.
    private static func rightmostSpaceAtStart(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var len = 0
        for s in scalars(p, n) {
            if !s.properties.isWhitespace { break }
            len += String(s).utf8.count
        }
        return len
    }
}
