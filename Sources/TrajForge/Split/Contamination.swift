import ByteJSON

/// Word n-grams of evaluation items (tasks or conversations), to flag training records that
/// overlap them. Overlap of a record with an item = the share of the item's n-grams that occur in
/// the record; a record is contaminated when its largest overlap reaches the threshold.
public struct ContaminationIndex: Sendable {
    public let n: Int
    public private(set) var items: [String] = []
    var sizes: [Int] = []
    var postings: [UInt64: [Int32]] = [:]

    public init(n: Int) { self.n = n }

    public var count: Int { items.count }

    /// Adds an evaluation item (its text) under a name; items with no words are skipped.
    public mutating func add(name: String, text: String) {
        let grams = Set(WordNGrams.hashes(of: text, n: n))
        guard !grams.isEmpty else { return }
        let k = Int32(items.count)
        items.append(name)
        sizes.append(grams.count)
        for g in grams { postings[g, default: []].append(k) }
    }

    /// The evaluation item `text` overlaps most, and the overlap (0…1), or nil when none.
    public func bestMatch(_ text: String) -> (item: String, overlap: Double, shared: Int)? {
        var hits: [Int32: Int] = [:]
        for g in Set(WordNGrams.hashes(of: text, n: n)) {
            for k in postings[g] ?? [] { hits[k, default: 0] += 1 }
        }
        var best: (Int32, Double, Int)?
        for (k, shared) in hits {
            let overlap = Double(shared) / Double(sizes[Int(k)])
            // Ties go to the earlier item, so the result does not depend on dictionary order.
            if best == nil || overlap > best!.1 || (overlap == best!.1 && k < best!.0) { best = (k, overlap, shared) }
        }
        return best.map { (items[Int($0.0)], $0.1, $0.2) }
    }

    /// Builds an index from files of evaluation items: canonical trajectories, tau-bench / tau2
    /// tasks (`tasks.json` as {split: [tasks]} or a list), OpenAI or ShareGPT conversations, or
    /// records with a `text` / `instruction` field. Returns the index and notes for the ledger.
    public static func load(paths: [String], n: Int, limits: ReaderLimits = .init()) throws(IOError) -> (ContaminationIndex, [String]) {
        var index = ContaminationIndex(n: n)
        var notes: [String] = []
        for path in paths {
            let before = index.count
            let input = try openRecords(path, limits: limits)
            guard let reader = input.reader else { continue }
            var k = 0
            while let batch = try reader.nextBatch() {
                for item in batch.items {
                    guard case .record(let raw) = item, case .success(let json) = parseRecord(batch, raw) else { continue }
                    for (name, text) in evalTexts(json, fallbackName: "\(path)#\(k)") { index.add(name: name, text: text) }
                    k += 1
                }
            }
            notes.append("\(path): \(index.count - before) evaluation items (word \(n)-grams)")
        }
        return (index, notes)
    }

    /// (name, text) for each evaluation item a JSON value holds.
    static func evalTexts(_ json: JSON, fallbackName: String) -> [(String, String)] {
        switch json {
        case .array(let list):
            return list.enumerated().flatMap { evalTexts($0.element, fallbackName: "\(fallbackName)[\($0.offset)]") }
        case .object(let o):
            // {"test": [tasks], "train": [...]} (tau-bench tasks.json)
            if o.members.allSatisfy({ $0.value.array != nil }), !o.isEmpty, o["messages"] == nil, o["conversations"] == nil {
                return o.members.flatMap { m in evalTexts(m.value, fallbackName: "\(fallbackName)/\(m.key)") }
            }
            let name = o["id"].map(scalarText) ?? fallbackName
            if let t = try? Trajectory(json: json) { return [(t.id, trainingText(t))] }
            var parts: [String] = []
            for key in ["instruction", "text", "question", "prompt"] { if let s = o[key]?.string { parts.append(s) } }
            if let instructions = o["user_scenario"]?["instructions"], let text = Tau2BenchAdapter.instructionText(instructions) { parts.append(text) }
            for m in o["messages"]?.array ?? [] { if let c = m["content"]?.string { parts.append(c) } }
            for m in o["conversations"]?.array ?? [] { if let c = m["value"]?.string { parts.append(c) } }
            return parts.isEmpty ? [] : [(name, parts.joined(separator: "\n"))]
        case .string(let s):
            return [(fallbackName, s)]
        default:
            return []
        }
    }

    /// The text of a trajectory that training could expose: user and assistant turns, and the task
    /// instruction (it travels with the record).
    public static func trainingText(_ t: Trajectory) -> String {
        var parts: [String] = []
        if let i = t.task?.instruction { parts.append(i) }
        for m in t.messages where m.role == .user || m.role == .assistant {
            if let c = m.content { parts.append(c) }
        }
        return parts.joined(separator: "\n")
    }
}

/// Lower-cased word n-grams (words = runs of letters and digits of any script), hashed with
/// 64-bit FNV-1a so the same text gives the same hashes in every run and process.
enum WordNGrams {
    static func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if u.properties.isAlphabetic || u.properties.numericType != nil {
                current.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
            } else if !current.isEmpty {
                out.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    static func hashes(of text: String, n: Int) -> [UInt64] {
        let w = words(text)
        if w.isEmpty { return [] }
        let wordHashes = w.map(fnv1a)
        if w.count < n { return [combine(wordHashes[...])] }
        return (0...(w.count - n)).map { combine(wordHashes[$0..<($0 + n)]) }
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func combine(_ hs: ArraySlice<UInt64>) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for x in hs {
            h ^= x &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
            h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        }
        return h ^ (h >> 32)
    }
}
