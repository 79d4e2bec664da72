// Loading an HF `tokenizer.json` (byte-level BPE). This is the one place that reads the JSON; it maps
// each supported component onto the hot-path types and rejects everything else by name.

import ByteJSON
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Tokenizer {
    /// Loads an HF `tokenizer.json` file, or the `tokenizer.json` inside a tokenizer folder.
    public convenience init(tokenizerJSONPath path: String) throws {
        var info = stat()
        let file = stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR ? path + "/tokenizer.json" : path
        try self.init(tokenizerJSON: try readFile(file))
    }

    /// Loads an HF `tokenizer.json` from its bytes.
    ///
    /// Supported: normalizer null / NFC / Sequence of NFC; pre_tokenizer Sequence[Split(Llama 3 or Qwen2
    /// regex, Isolated), ByteLevel(add_prefix_space: false, use_regex: false)] or ByteLevel(use_regex:
    /// true, add_prefix_space: false) (GPT-2 regex); model BPE (dropout null, byte_fallback false, no
    /// subword prefix/suffix, `ignore_merges`, `unk_token`, `fuse_unk`); merges as "a b" or ["a", "b"];
    /// post_processor null / ByteLevel / TemplateProcessing / Sequence of those; decoder null / ByteLevel;
    /// truncation and padding null. Anything else throws `BPEError.unsupported` naming the component.
    public convenience init(tokenizerJSON bytes: [UInt8]) throws {
        let root: JSON
        do { root = try JSON.parse(bytes) } catch { throw BPEError.malformed("not valid JSON: \(error)") }
        guard case .object(let top) = root else { throw BPEError.malformed("top level is not an object") }
        for key in ["truncation", "padding"] {
            if let v = top[key], v != .null {
                throw BPEError.unsupported(component: key, detail: "only null is supported (it changes encode results)")
            }
        }
        let normalizer = try HFLoader.normalizer(top["normalizer"] ?? .null, at: "normalizer")
        let pattern = try HFLoader.preTokenizer(top["pre_tokenizer"] ?? .null)
        guard let modelJSON = top["model"] else { throw BPEError.malformed("missing model") }
        let (model, modelTokens, vocab) = try HFLoader.model(modelJSON)
        let added = HFLoader.assignIds(try HFLoader.addedTokens(top["added_tokens"] ?? .array([])), vocab: vocab)
        var idsByContent: [String: Int32] = vocab
        for t in added { idsByContent[t.content] = t.id }
        let post = try HFLoader.postProcessor(top["post_processor"] ?? .null, at: "post_processor", ids: idsByContent)
        let decoder = try HFLoader.decoder(top["decoder"] ?? .null, at: "decoder")
        self.init(Components(model: model, modelTokens: modelTokens, normalizer: normalizer, splitPattern: pattern,
                             addedTokens: added, postProcessor: post, decoder: decoder))
    }
}

enum HFLoader {
    static func object(_ v: JSON, at path: String) throws -> JSONObject {
        guard case .object(let o) = v else { throw BPEError.malformed("\(path) is not an object") }
        return o
    }

    static func type(_ o: JSONObject, at path: String) throws -> String {
        guard case .string(let t)? = o["type"] else { throw BPEError.malformed("\(path) has no type") }
        return t
    }

    static func bool(_ o: JSONObject, _ key: String, default d: Bool) -> Bool {
        if case .bool(let b)? = o[key] { return b }
        return d
    }

    static func array(_ v: JSON?, at path: String) throws -> [JSON] {
        guard case .array(let a)? = v else { throw BPEError.malformed("\(path) is not an array") }
        return a
    }

    // MARK: normalizer

    static func normalizer(_ v: JSON, at path: String) throws -> [NormalizerStep] {
        if v == .null { return [] }
        let o = try object(v, at: path)
        let t = try type(o, at: path)
        switch t {
        case "NFC":
            return [.nfc]
        case "Sequence":
            var steps: [NormalizerStep] = []
            for (i, n) in try array(o["normalizers"], at: "\(path).normalizers").enumerated() {
                steps += try normalizer(n, at: "\(path).normalizers[\(i)]")
            }
            return steps
        default:
            throw BPEError.unsupported(component: path, detail: "normalizer type \(t) (supported: NFC, Sequence)")
        }
    }

    // MARK: pre_tokenizer

    /// The split pattern (nil: each piece is one pre-token). A ByteLevel step is required.
    static func preTokenizer(_ v: JSON) throws -> SplitPattern? {
        let path = "pre_tokenizer"
        guard v != .null else {
            throw BPEError.unsupported(component: path, detail: "null (a byte-level BPE needs a ByteLevel pre-tokenizer)")
        }
        let o = try object(v, at: path)
        let steps: [(JSONObject, String)]
        if try type(o, at: path) == "Sequence" {
            steps = try array(o["pretokenizers"], at: "\(path).pretokenizers").enumerated().map {
                (try object($0.element, at: "\(path).pretokenizers[\($0.offset)]"), "\(path).pretokenizers[\($0.offset)]")
            }
        } else {
            steps = [(o, path)]
        }
        var pattern: SplitPattern?
        var sawByteLevel = false
        for (step, at) in steps {
            let t = try type(step, at: at)
            switch t {
            case "Split":
                guard !sawByteLevel else {
                    throw BPEError.unsupported(component: at, detail: "Split after ByteLevel")
                }
                guard pattern == nil else {
                    throw BPEError.unsupported(component: at, detail: "more than one Split")
                }
                guard case .object(let po)? = step["pattern"] else { throw BPEError.malformed("\(at).pattern missing") }
                guard case .string(let source)? = po["Regex"] else {
                    throw BPEError.unsupported(component: "\(at).pattern", detail: "only {\"Regex\": …} patterns are supported")
                }
                guard let p = SplitPattern(regex: source) else {
                    throw BPEError.unsupported(component: "\(at).pattern",
                                              detail: "regex \(source) (supported: the Llama 3, Qwen2 and GPT-2 patterns)")
                }
                if case .string(let behavior)? = step["behavior"], behavior != "Isolated" {
                    throw BPEError.unsupported(component: "\(at).behavior", detail: "\(behavior) (supported: Isolated)")
                }
                if bool(step, "invert", default: false) {
                    throw BPEError.unsupported(component: "\(at).invert", detail: "true")
                }
                pattern = p
            case "ByteLevel":
                guard !sawByteLevel else { throw BPEError.unsupported(component: at, detail: "more than one ByteLevel") }
                if bool(step, "add_prefix_space", default: true) {
                    throw BPEError.unsupported(component: "\(at).add_prefix_space", detail: "true (supported: false)")
                }
                if bool(step, "use_regex", default: true) {
                    guard pattern == nil else {
                        throw BPEError.unsupported(component: "\(at).use_regex", detail: "true after a Split")
                    }
                    pattern = .gpt2
                }
                sawByteLevel = true
            default:
                throw BPEError.unsupported(component: at, detail: "pre-tokenizer type \(t) (supported: Split, ByteLevel, Sequence)")
            }
        }
        guard sawByteLevel else {
            throw BPEError.unsupported(component: path, detail: "no ByteLevel step (only byte-level BPE is supported)")
        }
        return pattern
    }

    // MARK: model

    static func model(_ v: JSON) throws -> (BPEModel, [(String, Int32)], [String: Int32]) {
        let path = "model"
        let o = try object(v, at: path)
        if case .string(let t)? = o["type"], t != "BPE" {
            throw BPEError.unsupported(component: path, detail: "model type \(t) (supported: BPE)")
        }
        if let d = o["dropout"], d != .null {
            throw BPEError.unsupported(component: "model.dropout", detail: "BPE dropout (supported: null)")
        }
        if bool(o, "byte_fallback", default: false) {
            throw BPEError.unsupported(component: "model.byte_fallback", detail: "true (supported: false)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            switch o[key] {
            case nil, .null?: break
            case .string(let s)? where s.isEmpty: break
            default: throw BPEError.unsupported(component: "model.\(key)", detail: "non-empty affix")
            }
        }
        guard case .object(let vocabObject)? = o["vocab"] else { throw BPEError.malformed("model.vocab is not an object") }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(vocabObject.members.count)
        var tokens: [(String, Int32)] = []
        tokens.reserveCapacity(vocabObject.members.count)
        for m in vocabObject.members {
            guard case .number(let n) = m.value, let id = n.int, id >= 0, id < Int(Int32.max) else {
                throw BPEError.malformed("model.vocab[\(m.key)] is not a valid id")
            }
            vocab[m.key] = Int32(id)
            tokens.append((m.key, Int32(id)))
        }
        let unkId: Int32
        switch o["unk_token"] {
        case nil, .null?: unkId = -1
        case .string(let u)?:
            guard let id = vocab[u] else { throw BPEError.malformed("model.unk_token \(u) is not in the vocabulary") }
            unkId = id
        default: throw BPEError.malformed("model.unk_token is not a string")
        }
        let mergesJSON = try array(o["merges"] ?? .array([]), at: "model.merges")
        var merges: [(left: Int32, right: Int32, rank: UInt32, merged: Int32)] = []
        merges.reserveCapacity(mergesJSON.count)
        for (rank, m) in mergesJSON.enumerated() {
            let a: String, b: String
            switch m {
            case .string(let s):
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw BPEError.malformed("model.merges[\(rank)] \"\(s)\" is not two tokens") }
                a = String(parts[0]); b = String(parts[1])
            case .array(let pair):
                guard pair.count == 2, case .string(let x) = pair[0], case .string(let y) = pair[1] else {
                    throw BPEError.malformed("model.merges[\(rank)] is not a pair of strings")
                }
                a = x; b = y
            default:
                throw BPEError.malformed("model.merges[\(rank)] is neither a string nor a pair")
            }
            guard let ia = vocab[a], let ib = vocab[b] else {
                throw BPEError.malformed("model.merges[\(rank)]: \(vocab[a] == nil ? a : b) is not in the vocabulary")
            }
            guard let im = vocab[a + b] else {
                throw BPEError.malformed("model.merges[\(rank)]: merged token \(a + b) is not in the vocabulary")
            }
            merges.append((ia, ib, UInt32(rank), im))
        }
        let model = buildModel(tokens: tokens, merges: merges, ignoreMerges: bool(o, "ignore_merges", default: false),
                               unkId: unkId, fuseUnk: bool(o, "fuse_unk", default: false))
        return (model, tokens, vocab)
    }

    /// Builds the hot-path model from byte-level token strings and id-level merges.
    static func buildModel(tokens: [(String, Int32)], merges: [(left: Int32, right: Int32, rank: UInt32, merged: Int32)],
                           ignoreMerges: Bool, unkId: Int32, fuseUnk: Bool) -> BPEModel {
        var entries: [(key: [UInt8], value: Int32)] = []
        entries.reserveCapacity(tokens.count)
        var maxId: Int32 = 0
        for (_, id) in tokens { maxId = max(maxId, id) }
        var lengths = [Int32](repeating: 0, count: Int(maxId) + 1)
        var byteIds = [Int32](repeating: -1, count: 256)
        for (t, id) in tokens {
            guard let raw = ByteLevel.bytes(ofToken: t) else { continue }
            entries.append((raw, id))
            lengths[Int(id)] = Int32(raw.count)
            if raw.count == 1 { byteIds[Int(raw[0])] = id }
        }
        return BPEModel(vocab: ByteStringTable(entries), merges: PairTable(merges), byteIds: byteIds,
                        ignoreMerges: ignoreMerges, unkId: unkId, fuseUnk: fuseUnk, tokenLengths: lengths)
    }

    // MARK: added_tokens

    static func addedTokens(_ v: JSON) throws -> [AddedToken] {
        var out: [AddedToken] = []
        for (i, t) in try array(v, at: "added_tokens").enumerated() {
            let o = try object(t, at: "added_tokens[\(i)]")
            guard case .number(let n)? = o["id"], let id = n.int, id >= 0, id < Int(Int32.max) else {
                throw BPEError.malformed("added_tokens[\(i)].id")
            }
            guard case .string(let content)? = o["content"] else { throw BPEError.malformed("added_tokens[\(i)].content") }
            out.append(AddedToken(id: Int32(id), content: content,
                                  singleWord: bool(o, "single_word", default: false),
                                  lstrip: bool(o, "lstrip", default: false),
                                  rstrip: bool(o, "rstrip", default: false),
                                  normalized: bool(o, "normalized", default: true),
                                  special: bool(o, "special", default: false)))
        }
        return out
    }

    /// Gives added tokens the ids HF's `AddedVocabulary::add_tokens` gives them when it loads a file: a
    /// token whose content is in the model vocabulary takes that id; any other takes one past the
    /// largest id assigned so far (at least the model vocabulary size). The ids written in the file
    /// are not used; for real files they agree. A repeated content keeps its first declaration.
    static func assignIds(_ tokens: [AddedToken], vocab: [String: Int32]) -> [AddedToken] {
        var out: [AddedToken] = []
        var seen: [String: Int32] = [:]
        var maxId: Int32? = nil
        let vocabSize = Int32(vocab.count)
        for var t in tokens {
            if seen[t.content] != nil { continue }
            if let id = vocab[t.content] {
                t.id = id
            } else {
                t.id = maxId.map { max($0, vocabSize - 1) + 1 } ?? vocabSize
            }
            maxId = max(maxId ?? t.id, t.id)
            seen[t.content] = t.id
            out.append(t)
        }
        return out
    }

    // MARK: post_processor

    static func postProcessor(_ v: JSON, at path: String, ids: [String: Int32]) throws -> PostProcessor {
        if v == .null { return .none }
        let o = try object(v, at: path)
        let t = try type(o, at: path)
        switch t {
        case "ByteLevel":
            return .none
        case "Sequence":
            var result = PostProcessor.none
            for (i, p) in try array(o["processors"], at: "\(path).processors").enumerated() {
                let step = try postProcessor(p, at: "\(path).processors[\(i)]", ids: ids)
                if !step.prefix.isEmpty || !step.suffix.isEmpty {
                    guard result.prefix.isEmpty && result.suffix.isEmpty else {
                        throw BPEError.unsupported(component: path, detail: "more than one TemplateProcessing")
                    }
                    result = step
                }
            }
            return result
        case "TemplateProcessing":
            var specialIds: [String: [Int32]] = [:]
            if case .object(let st)? = o["special_tokens"] {
                for m in st.members {
                    guard case .object(let entry) = m.value, case .array(let list)? = entry["ids"] else {
                        throw BPEError.malformed("\(path).special_tokens[\(m.key)]")
                    }
                    specialIds[m.key] = try list.map {
                        guard case .number(let n) = $0, let id = n.int else { throw BPEError.malformed("\(path).special_tokens[\(m.key)].ids") }
                        return Int32(id)
                    }
                }
            }
            var result = PostProcessor.none
            var sawSequence = false
            for (i, item) in try array(o["single"], at: "\(path).single").enumerated() {
                let io = try object(item, at: "\(path).single[\(i)]")
                if case .object(let seq)? = io["Sequence"] {
                    guard case .string("A")? = seq["id"], !sawSequence else {
                        throw BPEError.unsupported(component: "\(path).single[\(i)]", detail: "single template must contain sequence A once")
                    }
                    sawSequence = true
                } else if case .object(let sp)? = io["SpecialToken"], case .string(let name)? = sp["id"] {
                    guard let list = specialIds[name] ?? ids[name].map({ [$0] }) else {
                        throw BPEError.malformed("\(path).single[\(i)]: unknown special token \(name)")
                    }
                    if sawSequence { result.suffix += list } else { result.prefix += list }
                } else {
                    throw BPEError.malformed("\(path).single[\(i)] is neither Sequence nor SpecialToken")
                }
            }
            guard sawSequence else {
                throw BPEError.unsupported(component: "\(path).single", detail: "template without sequence A")
            }
            return result
        default:
            throw BPEError.unsupported(component: path,
                                      detail: "post-processor type \(t) (supported: ByteLevel, TemplateProcessing, Sequence)")
        }
    }

    // MARK: decoder

    static func decoder(_ v: JSON, at path: String) throws -> DecoderKind {
        if v == .null { return .none }
        let o = try object(v, at: path)
        let t = try type(o, at: path)
        switch t {
        case "ByteLevel":
            return .byteLevel
        case "Sequence":
            let steps = try array(o["decoders"], at: "\(path).decoders")
            guard steps.count == 1 else {
                throw BPEError.unsupported(component: path, detail: "decoder Sequence of \(steps.count) steps (supported: one ByteLevel)")
            }
            return try decoder(steps[0], at: "\(path).decoders[0]")
        default:
            throw BPEError.unsupported(component: path, detail: "decoder type \(t) (supported: ByteLevel)")
        }
    }
}

/// Reads a whole file with POSIX calls (no Foundation in the library).
func readFile(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else { throw BPEError.io(path: path, message: String(cString: strerror(errno))) }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { out.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count {
            if ferror(f) != 0 { throw BPEError.io(path: path, message: "read error") }
            break
        }
    }
    return out
}
