import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// The first pass's byte scanner (`FactScanner`) against the ordinary decoder
/// (`Deduplicator.analyze`): when the scanner takes a record, every fact must be the same; it must
/// never take a record the decoder rejects.
struct ScanCheck {
    var options = DedupOptions()
    var taken = 0
    var givenBack = 0

    init(_ configure: (inout DedupOptions) -> Void = { _ in }) { configure(&options) }

    /// Compares both ways on one record; returns whether the scanner took it.
    @discardableResult
    mutating func check(_ line: [UInt8], _ what: @autoclosure () -> String = "") -> Bool {
        let options = self.options
        let shingler = Shingler(ngram: options.ngram, observations: options.shingleObservations)
        let hasher = MinHasher(permutations: options.permutations, seed: options.seed)
        let permutations = options.near ? options.permutations : 0
        let batch = RecordBatch(storage: line, items: [.record(RawRecord(range: 0..<line.count,
                                                                          location: RecordLocation(file: "t", line: 1, index: 0, offset: 0)))])
        guard case .record(let raw) = batch.items[0] else { return false }
        var slow = FactsRun(permutations: permutations)
        var work = Deduplicator.FactsScratch()
        slow.append(Deduplicator.analyze(batch, raw, options: options, shingler: shingler, hasher: hasher, tools: ToolsDigestCache(),
                                         work: &work))
        // Twice with one scanner: the second time the tools text is known.
        var scanner = FactScanner(options: options, shingler: shingler, hasher: hasher, tools: ToolsDigestCache())
        for round in 0..<2 {
            var fast = FactsRun(permutations: permutations)
            let took = line.withUnsafeBytes { scanner.scan($0, into: &fast) }
            if !took {
                givenBack += round == 0 ? 1 : 0
                return false
            }
            let text = String(decoding: line.prefix(300), as: UTF8.self)
            #expect(slow.flags[0] & DedupIndex.decodedFlag != 0, "took a record the decoder rejects: \(what()) \(text)")
            #expect(fast.flags[0] & ~DedupIndex.oneLineFlag == slow.flags[0], "flags: \(what()) \(text)")
            #expect(fast.digests == slow.digests, "exact form: \(what()) \(text)")
            #expect(fast.taskKeys == slow.taskKeys, "task key: \(what()) \(text)")
            #expect(fast.signatures == slow.signatures, "signature: \(what()) \(text)")
            #expect(fast.idBytes == slow.idBytes, "id: \(what()) \(text)")
            let breaks = line.contains(0x0A) || line.contains(0x0D)
            #expect((fast.flags[0] & DedupIndex.oneLineFlag != 0) == !breaks, "one line: \(what()) \(text)")
        }
        taken += 1
        return true
    }

    @discardableResult
    mutating func check(_ text: String, _ what: @autoclosure () -> String = "") -> Bool { check(Array(text.utf8), what()) }
}

/// The compact JSON of a clean record with `edit` applied to its text.
func edited(_ edit: (String) -> String) -> String {
    var t = chattyTrajectory()
    t.task = TaskSpec(instruction: "  Find order seven. ", actions: [["name": "get_order"]], outputs: ["7"])
    t.meta = ["note": "x"]
    return edit(t.json.serialized())
}

@Suite struct DedupScanTests {
    @Test func sameFactsOnGeneratedAndRealRecords() throws {
        var lines: [[UInt8]] = []
        for r in DedupCorpus(seed: 3, originals: 150, exactCopies: 20, nearCopies: 60).records {
            lines.append(r.trajectory.json.serializedBytes())
        }
        let dir = temporaryFolder()
        let ingest = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools, folder: dir)
        lines += ingest.records.map { $0.serializedBytes() }
        lines += ingest.records.prefix(5).map { $0.serializedBytes(.pretty) }
        for configure: (inout DedupOptions) -> Void in [
            { _ in }, { $0.maxPerTask = 2 }, { $0.near = false }, { $0.shingleObservations = true; $0.ngram = 3 },
        ] {
            var check = ScanCheck(configure)
            for line in lines { check.check(line) }
            // The scanner takes every well-formed record.
            #expect(check.givenBack == 0)
        }
    }

    @Test func edgeCasesAgreeWithTheDecoder() {
        var check = ScanCheck { $0.maxPerTask = 1 }
        // Valid records the scanner must take.
        let valid: [(String, (String) -> String)] = [
            ("escapes", { $0.replacingOccurrences(of: "Hello there", with: #"Hello\n\t\"there\" \/ \u00e9\ud83d\ude00 \\ x"#) }),
            ("unicode space", { $0.replacingOccurrences(of: #""content":"Sure"#, with: #""content":"\u00a0\u2003 Sure"#) }),
            ("raw unicode", { $0.replacingOccurrences(of: "Hello there", with: "Héllo\u{3000} ça 😀 there\u{2028}") }),
            ("line breaks", { $0.replacingOccurrences(of: #","messages""#, with: ",\r\n\"messages\"") }),
            ("null content", { $0.replacingOccurrences(of: #""content":"That is great"#, with: #""content":null,"x":"That is great"#) }),
            ("escaped role", { $0.replacingOccurrences(of: #""role":"user""#, with: #""role":"\u0075ser""#) }),
            ("nested arguments", {
                $0.replacingOccurrences(of: #""detail":"full""#,
                                        with: #""détail":{"z":[1,2.50,-0,1e5,true,null,{"b":"\u00e9","a":"q\"x"}],"a":{}},"b\u00e9":"v","A":[]"#)
            }),
            ("big integers", { $0.replacingOccurrences(of: #""trial":0"#, with: #""trial":-123456789012345678"#) }),
            ("null group, blank instruction", {
                $0.replacingOccurrences(of: #""group":"shop:9""#, with: #""group":null"#)
                    .replacingOccurrences(of: "  Find order seven. ", with: "\\u00a0 ")
            }),
            ("unknown message and task keys", {
                $0.replacingOccurrences(of: #""role":"user","#, with: #""role":"user","weight":[1,{"k":"v"}],"#)
                    .replacingOccurrences(of: #""outputs""#, with: #""extra":{"a":1},"outputs""#)
            }),
            ("outcome variants", {
                $0.replacingOccurrences(of: #""success":true,"reward":null,"checks":{}"#, with: #""success":null,"reward":-1.5e-3,"checks":[1]"#)
            }),
            ("deep meta", { $0.replacingOccurrences(of: #""meta":{"note":"x"}"#, with: #""meta":{"d":"# + String(repeating: "[", count: 997) + String(repeating: "]", count: 997) + "}") }),
            ("calls with meta", { $0.replacingOccurrences(of: #""name":"get_order","arguments""#, with: #""meta":{"m":1},"name":"get_order","arguments""#) }),
        ]
        for (what, edit) in valid {
            let line = edited(edit)
            #expect(line != edited { $0 }, "no edit: \(what)")
            let taken = check.check(line, what)
            #expect(taken, "given back: \(what)")
        }
        var noTools = chattyTrajectory().json.object!
        noTools["tools"] = nil
        let noToolsTaken = check.check(JSON.object(noTools).serialized(), "no tools")
        #expect(noToolsTaken)
        // Records the decoder rejects, or that the scanner leaves to it: never taken with other facts.
        let others: [(String, (String) -> String)] = [
            // Insignificant white space between tokens: the scanner may leave it to the decoder.
            ("spaces everywhere", { $0.replacingOccurrences(of: ",", with: " ,\t").replacingOccurrences(of: ":", with: " : ") }),
            ("escaped key", { $0.replacingOccurrences(of: #""trial""#, with: #""tri\u0061l""#) }),
            ("repeated key", { $0.replacingOccurrences(of: #""trial":0"#, with: #""trial":0,"trial":1"#) }),
            ("repeated argument", { $0.replacingOccurrences(of: #""detail":"full""#, with: #""detail":"full","detail":"short""#) }),
            ("repeated nested key", { $0.replacingOccurrences(of: #""detail":"full""#, with: #""detail":{"a":1,"a":2}"#) }),
            ("unknown field", { $0.replacingOccurrences(of: #""trial""#, with: #""other":1,"trial""#) }),
            ("fractional trial", { $0.replacingOccurrences(of: #""trial":0"#, with: #""trial":1.0"#) }),
            ("huge trial", { $0.replacingOccurrences(of: #""trial":0"#, with: #""trial":92233720368547758070"#) }),
            ("19-digit trial", { $0.replacingOccurrences(of: #""trial":0"#, with: #""trial":1234567890123456789"#) }),
            ("null tools", { $0.replacingOccurrences(of: #""tools":["#, with: #""tools":null,"x":["#) }),
            ("no source file", { $0.replacingOccurrences(of: #""file""#, with: #""filex""#) }),
            ("string success", { $0.replacingOccurrences(of: #""success":true"#, with: #""success":"yes""#) }),
            ("null actions", { $0.replacingOccurrences(of: #""actions":["#, with: #""actions":null,"a":["#) }),
            ("number output", { $0.replacingOccurrences(of: #""outputs":["7"]"#, with: #""outputs":[7]"#) }),
            ("null meta", { $0.replacingOccurrences(of: #""meta":{"note":"x"}"#, with: #""meta":null"#) }),
            ("call without id", { $0.replacingOccurrences(of: #""id":"c1","#, with: "") }),
            ("bad role", { $0.replacingOccurrences(of: #""role":"user""#, with: #""role":"User""#) }),
            ("lone surrogate", { $0.replacingOccurrences(of: "Hello there", with: #"Hello \ud800 there"#) }),
            ("lone low surrogate", { $0.replacingOccurrences(of: "Hello there", with: #"Hello \udc00 there"#) }),
            ("bad escape", { $0.replacingOccurrences(of: "Hello there", with: #"Hello \x there"#) }),
            ("control byte", { $0.replacingOccurrences(of: "Hello there", with: "Hello \u{01} there") }),
            ("too deep", { $0.replacingOccurrences(of: #""meta":{"note":"x"}"#, with: #""meta":{"d":"# + String(repeating: "[", count: 999) + String(repeating: "]", count: 999) + "}") }),
            ("leading zero", { $0.replacingOccurrences(of: #""trial":0"#, with: #""trial":01"#) }),
            ("bad number", { $0.replacingOccurrences(of: #""note":"x""#, with: #""note":2."#) }),
            ("trailing comma", { $0.replacingOccurrences(of: #""full"}"#, with: #""full",}"#) }),
            ("trailing data", { $0 + " x" }),
            ("byte order mark", { "\u{FEFF}" + $0 }),
            ("not an object", { "[" + $0 + "]" }),
            ("truncated", { String($0.dropLast(3)) }),
        ]
        for (what, edit) in others {
            let line = edited(edit)
            #expect(line != edited { $0 }, "no edit: \(what)")
            check.check(line, what)
        }
        // Invalid UTF-8 inside a string, and an overlong form.
        for bad: [UInt8] in [[0xC3], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF]] {
            var line = Array(edited { $0 }.utf8)
            let at = line.firstIndex(of: UInt8(ascii: "H"))!
            line.insert(contentsOf: bad, at: at)
            check.check(line, "bad UTF-8 \(bad)")
        }
        #expect(check.taken >= valid.count)
    }
}
