import ByteJSON

/// Conversation-aware shingles: the set of features whose Jaccard similarity decides whether two
/// trajectories are near-duplicates.
///
/// - **Text**: word n-grams of every user and assistant message, per message (an n-gram never spans
///   two messages), tagged by role: `u:` user, `a:` assistant, `o:` tool observation (only with
///   `observations`), then the words joined by one space. A message of fewer than n words (but at
///   least one) is one shingle of all its words. Words are maximal runs of ASCII letters and digits
///   and of non-ASCII bytes, ASCII-lowercased; everything else separates words.
/// - **Tool calls**: `call:<name><canonical arguments>` (the whole call) and, for each argument,
///   `arg:<name>.<key>=<canonical value>`, so calls that differ in one argument still share most
///   features.
/// - **Excluded**: the system prompt and the tool schemas (whole domains share them), ids, outcome.
///
/// A shingle's 64-bit hash is XXH64 of its text after the tag, seeded with the tag's number
/// (`Kind.rawValue`), so the tag is part of the hash without being copied next to every n-gram;
/// `tools/dedup/datasketch_bench.py` computes the same hashes.
public struct Shingler: Sendable {
    /// What a shingle is made of; the raw value seeds its hash.
    public enum Kind: UInt8, Sendable, CaseIterable {
        case user = 1, assistant = 2, observation = 3, call = 4, argument = 5

        public var tag: String {
            switch self {
            case .user: "u:"
            case .assistant: "a:"
            case .observation: "o:"
            case .call: "call:"
            case .argument: "arg:"
            }
        }
    }

    public var ngram: Int
    public var observations: Bool

    public init(ngram: Int = 5, observations: Bool = false) {
        precondition(ngram >= 1, "n-gram size must be at least 1")
        self.ngram = ngram
        self.observations = observations
    }

    /// Calls `body` with the kind and the bytes (after the tag) of every shingle of `t`, in
    /// conversation order (a shingle repeated in the conversation is passed again).
    public func forEachShingle(_ t: Trajectory, _ body: (Kind, UnsafeRawBufferPointer) -> Void) {
        var scratch = Scratch()
        forEachShingle(t, scratch: &scratch, body)
    }

    func forEachShingle(_ t: Trajectory, scratch: inout Scratch, _ body: (Kind, UnsafeRawBufferPointer) -> Void) {
        for m in t.messages {
            switch m.role {
            case .user: if let c = m.content { textShingles(c, .user, &scratch, body) }
            case .assistant:
                if let c = m.content { textShingles(c, .assistant, &scratch, body) }
                for call in m.toolCalls { callShingles(call, &scratch, body) }
            case .tool: if observations, let c = m.content { textShingles(c, .observation, &scratch, body) }
            case .system: break
            }
        }
    }

    /// The hash of one shingle.
    @inline(__always)
    public static func hash(_ kind: Kind, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH64.hash(bytes, seed: UInt64(kind.rawValue))
    }

    /// The 64-bit hashes of every shingle of `t` (with repeats), appended to `out`.
    public func hashes(_ t: Trajectory, into out: inout [UInt64]) {
        forEachShingle(t) { out.append(Shingler.hash($0, $1)) }
    }

    func hashes(_ t: Trajectory, into out: inout [UInt64], scratch: inout Scratch) {
        forEachShingle(t, scratch: &scratch) { out.append(Shingler.hash($0, $1)) }
    }

    /// The distinct shingle hashes of `t`, sorted.
    public func hashSet(_ t: Trajectory) -> [UInt64] {
        var out: [UInt64] = []
        hashes(t, into: &out)
        out.sort()
        var w = 0
        for h in out where w == 0 || out[w - 1] != h {
            out[w] = h
            w += 1
        }
        out.removeLast(out.count - w)
        return out
    }

    /// The shingles as text, tag included (for tests and for inspecting what is compared).
    public func strings(_ t: Trajectory) -> [String] {
        var out: [String] = []
        forEachShingle(t) { out.append($0.tag + String(decoding: $1, as: UTF8.self)) }
        return out
    }

    /// Reused buffers: one message's words (lowercased, joined by single spaces) with the start
    /// and end of each word, and the bytes of one tool-call shingle.
    struct Scratch {
        var text: [UInt8] = []
        var starts: [Int32] = []
        var ends: [Int32] = []
        var shingle: [UInt8] = []
    }

    /// Word classes of bytes: ASCII letters and digits and every non-ASCII byte are word bytes.
    static let wordByte: [Bool] = (0..<256).map { b in
        b >= 0x80 || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    func textShingles(_ text: String, _ kind: Kind, _ s: inout Scratch, _ body: (Kind, UnsafeRawBufferPointer) -> Void) {
        var text = text
        text.withUTF8 { textShingles(utf8: $0, kind, &s, body) }
    }

    /// Text shingles of a message's UTF-8 bytes.
    func textShingles(utf8 bytes: UnsafeBufferPointer<UInt8>, _ kind: Kind, _ s: inout Scratch,
                      _ body: (Kind, UnsafeRawBufferPointer) -> Void)
    {
        let count = words(utf8: bytes, &s)
        if count == 0 { return }
        let n = min(ngram, count)
        s.text.withUnsafeBytes { text in
            for first in 0...(count - n) {
                let lo = Int(s.starts[first]), hi = Int(s.ends[first + n - 1])
                body(kind, UnsafeRawBufferPointer(rebasing: text[lo..<hi]))
            }
        }
    }

    /// Splits text into words, lowercased and joined by single spaces in `s.text`, with the start
    /// and end of each in `s.starts` and `s.ends`; returns how many there are. (`FactScanner` takes
    /// the shingles from here, straight from the record's bytes.)
    func words(utf8 bytes: UnsafeBufferPointer<UInt8>, _ s: inout Scratch) -> Int {
        // The words, joined, are never longer than the text, and there are at most
        // (length + 1) / 2 of them: size the buffers once, then write through pointers.
        let length = bytes.count
        if s.text.count < length { s.text = [UInt8](repeating: 0, count: max(length, 2 * s.text.count)) }
        if s.starts.count < length / 2 + 1 {
            s.starts = [Int32](repeating: 0, count: max(length / 2 + 1, 2 * s.starts.count))
            s.ends = s.starts
        }
        return s.text.withUnsafeMutableBufferPointer { out in
            s.starts.withUnsafeMutableBufferPointer { starts in
                s.ends.withUnsafeMutableBufferPointer { ends in
                    var count = 0
                    var w = 0
                    var inWord = false
                    Shingler.wordByte.withUnsafeBufferPointer { isWord in
                        for b in bytes {
                            if isWord[Int(b)] {
                                if !inWord {
                                    if count > 0 {
                                        out[w] = 0x20
                                        w += 1
                                    }
                                    starts[count] = Int32(w)
                                    inWord = true
                                }
                                out[w] = b &- 0x41 < 26 ? b | 0x20 : b
                                w += 1
                            } else if inWord {
                                ends[count] = Int32(w)
                                count += 1
                                inWord = false
                            }
                        }
                    }
                    if inWord {
                        ends[count] = Int32(w)
                        count += 1
                    }
                    return count
                }
            }
        }
    }

    func callShingles(_ call: ToolCall, _ s: inout Scratch, _ body: (Kind, UnsafeRawBufferPointer) -> Void) {
        s.shingle.removeAll(keepingCapacity: true)
        s.shingle.append(contentsOf: call.name.utf8)
        JSONWriter.canonical.write(.object(call.arguments), into: &s.shingle)
        s.shingle.withUnsafeBytes { body(.call, $0) }
        for member in call.arguments.members {
            s.shingle.removeAll(keepingCapacity: true)
            s.shingle.append(contentsOf: call.name.utf8)
            s.shingle.append(UInt8(ascii: "."))
            s.shingle.append(contentsOf: member.key.utf8)
            s.shingle.append(UInt8(ascii: "="))
            JSONWriter.canonical.write(member.value, into: &s.shingle)
            s.shingle.withUnsafeBytes { body(.argument, $0) }
        }
    }
}
