import ByteJSON
import Crypto

#if canImport(Glibc)
import Glibc
#endif

/// The first pass's fast path: reads a canonical record's bytes straight into its dedup facts
/// (exact-form digest, shingle hashes and MinHash signature, id, verified flag, task key), without
/// building a `JSON` tree or a `Trajectory`, and without allocating once its buffers have grown.
///
/// It checks what `JSON.parse` and `Trajectory(json:)` check, and gives the record back (returns
/// false) on anything it does not handle itself: input that is not valid, a repeated key where
/// keys are read, an escaped key where keys are matched, an integer of 19 digits or more. The
/// caller then decodes that record the ordinary way, so this path changes speed, never a result
/// (`DedupScanTests` compares both on every record of their inputs).
struct FactScanner {
    let shingler: Shingler
    let hasher: MinHasher
    let near: Bool
    let taskKeys: Bool
    let tools: ToolsDigestCache

    var cursor = ByteCursor()
    let arena = ScanArena()
    /// The exact form of the messages (`ExactForm.bytes` from the message count on), and the part
    /// before them.
    var form: [UInt8] = []
    var head: [UInt8] = []
    var hashes: [UInt64] = []
    var words = Shingler.Scratch()
    var shingle: [UInt8] = []
    /// One message's tool calls: canonical JSON of their arguments objects (`canon`), of each
    /// argument's value (`values`), and where each call and argument is.
    var canon: [UInt8] = []
    var values: [UInt8] = []
    var calls: [CallScan] = []
    var arguments: [ArgumentScan] = []
    var order: [Int] = []
    /// Tool-schema texts seen by this scanner and their digests (read without the shared lock).
    var knownTools: [KnownTools] = []
    var noToolsDigest: [UInt8]?

    struct CallScan {
        var name: UnsafeBufferPointer<UInt8>
        var object: Range<Int>
        var arguments: Range<Int>
    }

    struct KnownTools {
        var raw: [UInt8]
        var digest: [UInt8]
        /// The text has a line break (skipping it skips one).
        var breaks: Bool

        init(_ raw: [UInt8], _ digest: [UInt8]) {
            self.raw = raw
            self.digest = digest
            breaks = raw.contains(0x0A) || raw.contains(0x0D)
        }
    }

    struct ArgumentScan {
        var key: UnsafeBufferPointer<UInt8>
        var value: Range<Int>
    }

    init(options: DedupOptions, shingler: Shingler, hasher: MinHasher, tools: ToolsDigestCache) {
        self.shingler = shingler
        self.hasher = hasher
        near = options.near
        taskKeys = options.maxPerTask != nil
        self.tools = tools
    }

    /// Scans one record; when it can, appends the record's facts to `run` and returns true.
    mutating func scan(_ record: UnsafeRawBufferPointer, into run: inout FactsRun) -> Bool {
        guard let base = record.baseAddress, record.count > 0 else { return false }
        arena.reserve(record.count)
        cursor = ByteCursor(base.assumingMemoryBound(to: UInt8.self), count: record.count, arena: arena.base)
        do throws(ScanFallback) {
            try scanRecord(into: &run)
            return true
        } catch {
            return false
        }
    }

    // MARK: - Record

    private mutating func scanRecord(into run: inout FactsRun) throws(ScanFallback) {
        form.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        var seen: UInt16 = 0
        var id = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        var system: UnsafeBufferPointer<UInt8>?
        var group: UnsafeBufferPointer<UInt8>?
        var instruction: UnsafeBufferPointer<UInt8>?
        var firstUser: UnsafeBufferPointer<UInt8>?? = .none
        var toolsDigest: [UInt8]?
        var newTools: Range<Int>?
        var verified = false
        var messageCount = 0

        cursor.skipSpace()
        try cursor.expect(UInt8(ascii: "{"))
        cursor.skipSpace()
        while true {
            let key = try cursor.key()
            try cursor.colon()
            let field = try TopField(cursor, key)
            if seen & field.rawValue != 0 { throw ScanFallback() }
            seen |= field.rawValue
            switch field {
            case .id: id = try cursor.stringValue()
            case .source: try scanSource()
            case .group: group = try cursor.optionalStringValue()
            case .trial: try cursor.optionalInt()
            case .domain: _ = try cursor.optionalStringValue()
            case .system: system = try cursor.optionalStringValue()
            case .tools:
                guard cursor.peek == UInt8(ascii: "[") else { throw ScanFallback() }
                let start = cursor.i
                if let known = knownTools(at: start) {
                    cursor.skip(known.raw.count, lineBreak: known.breaks)
                    toolsDigest = known.digest
                } else {
                    try cursor.skipValue(depth: 1)
                    newTools = start..<cursor.i
                }
            case .messages: messageCount = try scanMessages(firstUser: &firstUser)
            case .outcome: verified = try scanOutcome()
            case .task: instruction = try scanTask()
            case .meta: try cursor.objectValue(depth: 1)
            default: throw ScanFallback()
            }
            if try cursor.endOfMember(UInt8(ascii: "}")) { break }
        }
        cursor.skipSpace()
        let required = TopField.id.rawValue | TopField.source.rawValue | TopField.messages.rawValue
        guard cursor.i == cursor.n, seen & required == required else { throw ScanFallback() }

        // Tools text not seen before: parsed once, then known by its bytes.
        if let newTools {
            let raw = UnsafeRawBufferPointer(start: cursor.p + newTools.lowerBound, count: newTools.count)
            guard case .array(let list)? = try? JSON.parse(raw) else { throw ScanFallback() }
            let digest = tools.digest(of: list)
            tools.remember(raw: raw, digest: digest)
            knownTools.append(KnownTools(Array(raw), digest))
            toolsDigest = digest
        } else if toolsDigest == nil {
            if noToolsDigest == nil { noToolsDigest = tools.digest(of: []) }
            toolsDigest = noToolsDigest
        }

        // The exact form: what ExactForm.bytes writes, its message part already in `form`.
        head.removeAll(keepingCapacity: true)
        head.append(contentsOf: "trajforge exact form 1\n".utf8)
        head.append(contentsOf: toolsDigest!)
        FactScanner.appendText(system, into: &head)
        FactScanner.appendCount(messageCount, into: &head)
        var sha = SHA256()
        head.withUnsafeBytes { sha.update(bufferPointer: $0) }
        form.withUnsafeBytes { sha.update(bufferPointer: $0) }
        let digest = sha.finalize().withUnsafeBytes { raw in
            Digest128(high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                      low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }

        var taskKey: UInt64?
        if taskKeys { taskKey = self.taskKey(group: group, instruction: instruction, firstUser: firstUser ?? nil) }
        run.append(id: id, verified: verified, oneLine: !cursor.sawLineBreak, digest: digest, taskKey: taskKey, hashes: hashes,
                   hasher: near ? hasher : nil)
    }

    /// The tools text at `start` when this scanner or the shared cache has seen it.
    private mutating func knownTools(at start: Int) -> KnownTools? {
        let rest = UnsafeRawBufferPointer(start: cursor.p + start, count: cursor.n - start)
        for e in knownTools where e.raw.count <= rest.count {
            if e.raw.withUnsafeBytes({ memcmp($0.baseAddress!, rest.baseAddress!, $0.count) }) == 0 { return e }
        }
        guard let e = tools.entry(prefixOf: rest) else { return nil }
        let known = KnownTools(e.raw, e.digest)
        knownTools.append(known)
        return known
    }

    /// `Deduplicator.taskKey`, hashed: the group, else the trimmed task instruction, else the
    /// trimmed content of the first user message.
    private mutating func taskKey(group: UnsafeBufferPointer<UInt8>?, instruction: UnsafeBufferPointer<UInt8>?,
                                  firstUser: UnsafeBufferPointer<UInt8>?) -> UInt64?
    {
        shingle.removeAll(keepingCapacity: true)
        if let group {
            shingle.append(contentsOf: "group:".utf8)
            shingle.append(contentsOf: group)
        } else if let text = instruction.flatMap(ExactForm.trimmed(utf8:)) ?? firstUser.flatMap(ExactForm.trimmed(utf8:)) {
            shingle.append(contentsOf: "instruction:".utf8)
            shingle.append(contentsOf: text)
        } else {
            return nil
        }
        return XXH64.hash(shingle)
    }

    private mutating func scanSource() throws(ScanFallback) {
        try cursor.expect(UInt8(ascii: "{"))
        cursor.skipSpace()
        var seen: UInt8 = 0
        if !cursor.consume(UInt8(ascii: "}")) {
            while true {
                let key = try cursor.key()
                try cursor.colon()
                var bit: UInt8 = 0
                if cursor.keyIs(key, "format") {
                    bit = 1
                    try cursor.skipString()
                } else if cursor.keyIs(key, "file") {
                    bit = 2
                    try cursor.skipString()
                } else if cursor.keyIs(key, "line") || cursor.keyIs(key, "index") || cursor.keyIs(key, "offset") {
                    bit = cursor.keyIs(key, "line") ? 4 : cursor.keyIs(key, "index") ? 8 : 16
                    try cursor.optionalInt()
                } else {
                    try cursor.skipValue(depth: 2)
                }
                if seen & bit != 0 { throw ScanFallback() }
                seen |= bit
                if try cursor.endOfMember(UInt8(ascii: "}")) { break }
            }
        }
        guard seen & 3 == 3 else { throw ScanFallback() }
    }

    /// outcome.success == true (null, or an object whose success, reward and checks are valid).
    private mutating func scanOutcome() throws(ScanFallback) -> Bool {
        if cursor.consumeNull() { return false }
        try cursor.expect(UInt8(ascii: "{"))
        cursor.skipSpace()
        var seen: UInt8 = 0
        var success = false
        if cursor.consume(UInt8(ascii: "}")) { return false }
        while true {
            let key = try cursor.key()
            try cursor.colon()
            var bit: UInt8 = 0
            if cursor.keyIs(key, "success") {
                bit = 1
                if cursor.consumeLiteral("true") {
                    success = true
                } else if !cursor.consumeLiteral("false") && !cursor.consumeNull() {
                    throw ScanFallback()
                }
            } else if cursor.keyIs(key, "reward") {
                bit = 2
                if !cursor.consumeNull() { try cursor.number() }
            } else {
                try cursor.skipValue(depth: 2)
            }
            if seen & bit != 0 { throw ScanFallback() }
            seen |= bit
            if try cursor.endOfMember(UInt8(ascii: "}")) { break }
        }
        return success
    }

    /// The task's instruction (null task: nil).
    private mutating func scanTask() throws(ScanFallback) -> UnsafeBufferPointer<UInt8>? {
        if cursor.consumeNull() { return nil }
        try cursor.expect(UInt8(ascii: "{"))
        cursor.skipSpace()
        var seen: UInt8 = 0
        var instruction: UnsafeBufferPointer<UInt8>?
        if cursor.consume(UInt8(ascii: "}")) { return nil }
        while true {
            let key = try cursor.key()
            try cursor.colon()
            var bit: UInt8 = 0
            if cursor.keyIs(key, "instruction") {
                bit = 1
                instruction = try cursor.optionalStringValue()
            } else if cursor.keyIs(key, "actions") {
                bit = 2
                guard cursor.peek == UInt8(ascii: "[") else { throw ScanFallback() }
                try cursor.skipValue(depth: 2)
            } else if cursor.keyIs(key, "outputs") {
                bit = 4
                try cursor.expect(UInt8(ascii: "["))
                cursor.skipSpace()
                if !cursor.consume(UInt8(ascii: "]")) {
                    while true {
                        try cursor.skipString()
                        if try cursor.endOfMember(UInt8(ascii: "]")) { break }
                    }
                }
            } else if cursor.keyIs(key, "meta") {
                bit = 8
                try cursor.objectValue(depth: 2)
            } else {
                try cursor.skipValue(depth: 2)
            }
            if seen & bit != 0 { throw ScanFallback() }
            seen |= bit
            if try cursor.endOfMember(UInt8(ascii: "}")) { break }
        }
        return instruction
    }

    // MARK: - Messages

    /// Scans the messages array: writes each message's exact form into `form` and its shingle
    /// hashes into `hashes`; returns how many messages there are.
    private mutating func scanMessages(firstUser: inout UnsafeBufferPointer<UInt8>??) throws(ScanFallback) -> Int {
        try cursor.expect(UInt8(ascii: "["))
        cursor.skipSpace()
        if cursor.consume(UInt8(ascii: "]")) { return 0 }
        var count = 0
        while true {
            let (role, content) = try scanMessage()
            if role == .user, firstUser == nil { firstUser = .some(content) }
            count += 1
            if try cursor.endOfMember(UInt8(ascii: "]")) { break }
        }
        return count
    }

    private mutating func scanMessage() throws(ScanFallback) -> (Role, UnsafeBufferPointer<UInt8>?) {
        try cursor.expect(UInt8(ascii: "{"))
        cursor.skipSpace()
        var seen: UInt8 = 0
        var role: Role?
        var content: UnsafeBufferPointer<UInt8>?
        var name: UnsafeBufferPointer<UInt8>?
        calls.removeAll(keepingCapacity: true)
        arguments.removeAll(keepingCapacity: true)
        canon.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        if !cursor.consume(UInt8(ascii: "}")) {
            while true {
                let key = try cursor.key()
                try cursor.colon()
                var bit: UInt8 = 0
                if cursor.keyIs(key, "role") {
                    bit = 1
                    role = try Role(utf8: cursor.stringValue())
                } else if cursor.keyIs(key, "content") {
                    bit = 2
                    content = try cursor.optionalStringValue()
                } else if cursor.keyIs(key, "tool_calls") {
                    bit = 4
                    if !cursor.consumeNull() { try scanCalls() }
                } else if cursor.keyIs(key, "tool_call_id") {
                    bit = 8
                    _ = try cursor.optionalStringValue()
                } else if cursor.keyIs(key, "name") {
                    bit = 16
                    name = try cursor.optionalStringValue()
                } else if cursor.keyIs(key, "meta") {
                    bit = 32
                    try cursor.objectValue(depth: 3)
                } else {
                    try cursor.skipValue(depth: 3)
                }
                if seen & bit != 0 { throw ScanFallback() }
                seen |= bit
                if try cursor.endOfMember(UInt8(ascii: "}")) { break }
            }
        }
        guard let role else { throw ScanFallback() }

        // Exact form (ExactForm.bytes, one message).
        switch role {
        case .system: form.append(UInt8(ascii: "s"))
        case .user: form.append(UInt8(ascii: "u"))
        case .assistant: form.append(UInt8(ascii: "a"))
        case .tool: form.append(UInt8(ascii: "t"))
        }
        FactScanner.appendText(content, into: &form)
        FactScanner.appendField(role == .tool ? name : nil, into: &form)
        FactScanner.appendCount(calls.count, into: &form)
        for call in calls {
            FactScanner.appendField(call.name, into: &form)
            form.append(0x01)
            FactScanner.appendCount(call.object.count, into: &form)
            form.append(contentsOf: canon[call.object])
        }

        // Shingles (Shingler.forEachShingle, one message).
        if near {
            switch role {
            case .user: if let content { textShingles(content, .user) }
            case .assistant:
                if let content { textShingles(content, .assistant) }
                for call in calls { callShingles(call) }
            case .tool: if shingler.observations, let content { textShingles(content, .observation) }
            case .system: break
            }
        }
        return (role, content)
    }

    private mutating func scanCalls() throws(ScanFallback) {
        try cursor.expect(UInt8(ascii: "["))
        cursor.skipSpace()
        if cursor.consume(UInt8(ascii: "]")) { return }
        while true {
            try scanCall()
            if try cursor.endOfMember(UInt8(ascii: "]")) { break }
        }
    }

    private mutating func scanCall() throws(ScanFallback) {
        try cursor.expect(UInt8(ascii: "{"))
        cursor.skipSpace()
        var seen: UInt8 = 0
        var name = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        var object = 0..<0
        var members = 0..<0
        if !cursor.consume(UInt8(ascii: "}")) {
            while true {
                let key = try cursor.key()
                try cursor.colon()
                var bit: UInt8 = 0
                if cursor.keyIs(key, "id") {
                    bit = 1
                    try cursor.skipString()
                } else if cursor.keyIs(key, "name") {
                    bit = 2
                    name = try cursor.stringValue()
                } else if cursor.keyIs(key, "arguments") {
                    bit = 4
                    (object, members) = try scanArguments()
                } else if cursor.keyIs(key, "meta") {
                    bit = 8
                    try cursor.objectValue(depth: 5)
                } else {
                    try cursor.skipValue(depth: 5)
                }
                if seen & bit != 0 { throw ScanFallback() }
                seen |= bit
                if try cursor.endOfMember(UInt8(ascii: "}")) { break }
            }
        }
        guard seen & 7 == 7 else { throw ScanFallback() }
        calls.append(CallScan(name: name, object: object, arguments: members))
    }

    /// A call's arguments object: its canonical JSON (in `canon`) and its members in order, each
    /// value as canonical JSON (in `values`). A repeated key gives the record back.
    private mutating func scanArguments() throws(ScanFallback) -> (Range<Int>, Range<Int>) {
        try cursor.expect(UInt8(ascii: "{"))
        cursor.skipSpace()
        let first = arguments.count
        if !cursor.consume(UInt8(ascii: "}")) {
            while true {
                guard cursor.peek == UInt8(ascii: "\"") else { throw ScanFallback() }
                let key = try cursor.stringValue()
                try cursor.colon()
                let start = values.count
                try cursor.canonicalValue(into: &values, depth: 6)
                arguments.append(ArgumentScan(key: key, value: start..<values.count))
                if try cursor.endOfMember(UInt8(ascii: "}")) { break }
            }
        }
        // Sorted by key bytes, as JSONWriter.canonical sorts.
        order.removeAll(keepingCapacity: true)
        for k in first..<arguments.count {
            var at = order.count
            while at > 0 && ByteCursor.precedes(arguments[k].key, arguments[order[at - 1]].key) { at -= 1 }
            if at > 0 && ByteCursor.equal(arguments[k].key, arguments[order[at - 1]].key) { throw ScanFallback() }
            order.insert(k, at: at)
        }
        let start = canon.count
        canon.append(UInt8(ascii: "{"))
        for (n, k) in order.enumerated() {
            if n > 0 { canon.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(utf8: arguments[k].key, into: &canon)
            canon.append(UInt8(ascii: ":"))
            canon.append(contentsOf: values[arguments[k].value])
        }
        canon.append(UInt8(ascii: "}"))
        return (start..<canon.count, first..<arguments.count)
    }

    // MARK: - Shingles

    private mutating func textShingles(_ text: UnsafeBufferPointer<UInt8>, _ kind: Shingler.Kind) {
        let count = shingler.words(utf8: text, &words)
        if count == 0 { return }
        let n = min(shingler.ngram, count)
        let seed = UInt64(kind.rawValue)
        words.text.withUnsafeBytes { text in
            for first in 0...(count - n) {
                let lo = Int(words.starts[first]), hi = Int(words.ends[first + n - 1])
                hashes.append(XXH64.hash(UnsafeRawBufferPointer(rebasing: text[lo..<hi]), seed: seed))
            }
        }
    }

    /// `call:<name><canonical arguments>`, then `arg:<name>.<key>=<canonical value>` per argument.
    private mutating func callShingles(_ call: CallScan) {
        shingle.removeAll(keepingCapacity: true)
        shingle.append(contentsOf: call.name)
        shingle.append(contentsOf: canon[call.object])
        hashes.append(XXH64.hash(shingle, seed: UInt64(Shingler.Kind.call.rawValue)))
        for k in call.arguments {
            shingle.removeAll(keepingCapacity: true)
            shingle.append(contentsOf: call.name)
            shingle.append(UInt8(ascii: "."))
            shingle.append(contentsOf: arguments[k].key)
            shingle.append(UInt8(ascii: "="))
            shingle.append(contentsOf: values[arguments[k].value])
            hashes.append(XXH64.hash(shingle, seed: UInt64(Shingler.Kind.argument.rawValue)))
        }
    }

    // MARK: - Exact-form fields (as ExactForm writes them)

    // Static: a method of self would copy the whole scanner to run beside `&form`.
    private static func appendCount(_ n: Int, into out: inout [UInt8]) {
        withUnsafeBytes(of: UInt64(n).littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendField(_ bytes: UnsafeBufferPointer<UInt8>?, into out: inout [UInt8]) {
        guard let bytes else {
            out.append(0xFF)
            return
        }
        out.append(0x01)
        FactScanner.appendCount(bytes.count, into: &out)
        out.append(contentsOf: bytes)
    }

    private static func appendText(_ text: UnsafeBufferPointer<UInt8>?, into out: inout [UInt8]) {
        FactScanner.appendField(text.flatMap(ExactForm.trimmed(utf8:)), into: &out)
    }
}

/// Why the scanner gave a record back (never shown: the ordinary decoder then decides).
struct ScanFallback: Error {}

/// The top-level fields of a canonical record (`Trajectory(json:)` knows no others).
struct TopField: OptionSet {
    let rawValue: UInt16
    static let id = TopField(rawValue: 1 << 0)
    static let source = TopField(rawValue: 1 << 1)
    static let group = TopField(rawValue: 1 << 2)
    static let trial = TopField(rawValue: 1 << 3)
    static let domain = TopField(rawValue: 1 << 4)
    static let system = TopField(rawValue: 1 << 5)
    static let tools = TopField(rawValue: 1 << 6)
    static let messages = TopField(rawValue: 1 << 7)
    static let outcome = TopField(rawValue: 1 << 8)
    static let task = TopField(rawValue: 1 << 9)
    static let meta = TopField(rawValue: 1 << 10)

    init(rawValue: UInt16) { self.rawValue = rawValue }

    init(_ c: ByteCursor, _ key: Range<Int>) throws(ScanFallback) {
        switch key.count {
        case 2 where c.keyIs(key, "id"): self = .id
        case 4 where c.keyIs(key, "task"): self = .task
        case 4 where c.keyIs(key, "meta"): self = .meta
        case 5 where c.keyIs(key, "group"): self = .group
        case 5 where c.keyIs(key, "trial"): self = .trial
        case 5 where c.keyIs(key, "tools"): self = .tools
        case 6 where c.keyIs(key, "source"): self = .source
        case 6 where c.keyIs(key, "domain"): self = .domain
        case 6 where c.keyIs(key, "system"): self = .system
        case 7 where c.keyIs(key, "outcome"): self = .outcome
        case 8 where c.keyIs(key, "messages"): self = .messages
        default: throw ScanFallback()  // an unknown field: not canonical
        }
    }
}

extension Role {
    init(utf8 b: UnsafeBufferPointer<UInt8>) throws(ScanFallback) {
        func `is`(_ s: StaticString) -> Bool {
            b.count == s.utf8CodeUnitCount && memcmp(b.baseAddress!, s.utf8Start, b.count) == 0
        }
        if b.isEmpty { throw ScanFallback() }
        if `is`("user") { self = .user } else if `is`("assistant") { self = .assistant } else if `is`("tool") {
            self = .tool
        } else if `is`("system") { self = .system } else { throw ScanFallback() }
    }
}

/// Memory for decoded strings with escapes; reserved to the record's length before a scan (decoded
/// text is never longer than its JSON), so pointers into it stay valid for the whole record.
final class ScanArena {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int

    init() {
        capacity = 1 << 16
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    func reserve(_ count: Int) {
        guard count > capacity else { return }
        base.deallocate()
        capacity = max(count, 2 * capacity)
        base = .allocate(capacity: capacity)
    }
}

/// JSON over one record's bytes, checked as `JSON.parse` checks it (RFC 8259, strict UTF-8 in
/// strings, valid escapes and surrogate pairs, at most 1000 levels), without building values.
/// Every failure throws `ScanFallback`.
struct ByteCursor {
    private(set) var p: UnsafePointer<UInt8>
    private(set) var n: Int
    var i = 0
    private var arena: UnsafeMutablePointer<UInt8>?
    private var used = 0

    static let maxDepth = JSONParseOptions().maxDepth

    init() {
        p = UnsafePointer(bitPattern: 1)!
        n = 0
    }

    init(_ p: UnsafePointer<UInt8>, count: Int, arena: UnsafeMutablePointer<UInt8>) {
        self.p = p
        self.n = count
        self.arena = arena
    }

    var peek: UInt8 { i < n ? p[i] : 0 }

    /// Whether a line break was skipped (outside strings, the only place one can be).
    private(set) var sawLineBreak = false

    @inline(__always)
    mutating func skipSpace() {
        while i < n {
            let c = p[i]
            if c != 0x20 && c != 0x09 {
                guard c == 0x0A || c == 0x0D else { return }
                sawLineBreak = true
            }
            i += 1
        }
    }

    /// Moves past `count` bytes known to be valid JSON.
    mutating func skip(_ count: Int, lineBreak: Bool) {
        i += count
        if lineBreak { sawLineBreak = true }
    }

    @inline(__always)
    mutating func consume(_ c: UInt8) -> Bool {
        guard i < n, p[i] == c else { return false }
        i += 1
        return true
    }

    @inline(__always)
    mutating func expect(_ c: UInt8) throws(ScanFallback) {
        guard i < n, p[i] == c else { throw ScanFallback() }
        i += 1
    }

    /// ':' between a key and its value, with the space around it.
    @inline(__always)
    mutating func colon() throws(ScanFallback) {
        skipSpace()
        try expect(UInt8(ascii: ":"))
        skipSpace()
    }

    /// After a member or element: true at `close` (consumed), false after a ',' (consumed, and
    /// the space after it).
    @inline(__always)
    mutating func endOfMember(_ close: UInt8) throws(ScanFallback) -> Bool {
        skipSpace()
        guard i < n else { throw ScanFallback() }
        let c = p[i]
        i += 1
        if c == close { return true }
        guard c == UInt8(ascii: ",") else { throw ScanFallback() }
        skipSpace()
        return false
    }

    mutating func consumeLiteral(_ word: StaticString) -> Bool {
        let len = word.utf8CodeUnitCount
        guard i + len <= n, memcmp(p + i, word.utf8Start, len) == 0 else { return false }
        i += len
        return true
    }

    @inline(__always)
    mutating func consumeNull() -> Bool { consumeLiteral("null") }

    /// An object key without escapes (escaped keys give the record back), as a range of the record.
    @inline(__always)
    mutating func key() throws(ScanFallback) -> Range<Int> {
        guard i < n, p[i] == UInt8(ascii: "\"") else { throw ScanFallback() }
        let (start, end, escaped) = try string()
        if escaped { throw ScanFallback() }
        return start..<end
    }

    @inline(__always)
    func keyIs(_ key: Range<Int>, _ name: StaticString) -> Bool {
        key.count == name.utf8CodeUnitCount && memcmp(p + key.lowerBound, name.utf8Start, key.count) == 0
    }

    /// A string value's decoded bytes (in the record when it has no escapes, else in the arena).
    mutating func stringValue() throws(ScanFallback) -> UnsafeBufferPointer<UInt8> {
        guard i < n, p[i] == UInt8(ascii: "\"") else { throw ScanFallback() }
        let (start, end, escaped) = try string()
        return escaped ? decode(start, end) : UnsafeBufferPointer(start: p + start, count: end - start)
    }

    mutating func optionalStringValue() throws(ScanFallback) -> UnsafeBufferPointer<UInt8>? {
        if consumeNull() { return nil }
        return try stringValue()
    }

    mutating func skipString() throws(ScanFallback) {
        guard i < n, p[i] == UInt8(ascii: "\"") else { throw ScanFallback() }
        _ = try string()
    }

    /// null, or an integer that `JSONNumber.int` reads (up to 18 digits; longer ones give the
    /// record back).
    mutating func optionalInt() throws(ScanFallback) {
        if consumeNull() { return }
        let start = i
        try number()
        var k = start
        if p[k] == UInt8(ascii: "-") { k += 1 }
        for j in k..<i where p[j] &- UInt8(ascii: "0") >= 10 { throw ScanFallback() }
        if i - k > 18 { throw ScanFallback() }
    }

    /// An object value, checked and skipped.
    mutating func objectValue(depth: Int) throws(ScanFallback) {
        guard i < n, p[i] == UInt8(ascii: "{") else { throw ScanFallback() }
        try skipValue(depth: depth)
    }

    /// Checks and skips one value inside `depth` open arrays and objects.
    mutating func skipValue(depth: Int) throws(ScanFallback) {
        guard i < n else { throw ScanFallback() }
        switch p[i] {
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "{"):
            if depth + 1 > ByteCursor.maxDepth { throw ScanFallback() }
            i += 1
            skipSpace()
            if consume(UInt8(ascii: "}")) { return }
            while true {
                guard i < n, p[i] == UInt8(ascii: "\"") else { throw ScanFallback() }
                _ = try string()
                try colon()
                try skipValue(depth: depth + 1)
                if try endOfMember(UInt8(ascii: "}")) { return }
            }
        case UInt8(ascii: "["):
            if depth + 1 > ByteCursor.maxDepth { throw ScanFallback() }
            i += 1
            skipSpace()
            if consume(UInt8(ascii: "]")) { return }
            while true {
                try skipValue(depth: depth + 1)
                if try endOfMember(UInt8(ascii: "]")) { return }
            }
        case UInt8(ascii: "t"): if !consumeLiteral("true") { throw ScanFallback() }
        case UInt8(ascii: "f"): if !consumeLiteral("false") { throw ScanFallback() }
        case UInt8(ascii: "n"): if !consumeLiteral("null") { throw ScanFallback() }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw ScanFallback()
        }
    }

    /// Writes one value as `JSONWriter.canonical` writes it (sorted keys, no spaces, minimal
    /// escapes, numbers as written). A repeated key gives the record back.
    mutating func canonicalValue(into out: inout [UInt8], depth: Int) throws(ScanFallback) {
        guard i < n else { throw ScanFallback() }
        switch p[i] {
        case UInt8(ascii: "\""):
            let (start, end, escaped) = try string()
            if escaped {
                JSONWriter.appendString(utf8: decode(start, end), into: &out)
            } else {
                // Without escapes the text is already canonical (no quote, backslash or control byte).
                out.append(contentsOf: UnsafeBufferPointer(start: p + start - 1, count: end - start + 2))
            }
        case UInt8(ascii: "{"):
            if depth + 1 > ByteCursor.maxDepth { throw ScanFallback() }
            i += 1
            skipSpace()
            if consume(UInt8(ascii: "}")) {
                out.append(contentsOf: "{}".utf8)
                return
            }
            // Nested objects are rare in arguments: plain arrays are fine here.
            var members: [(key: UnsafeBufferPointer<UInt8>, value: Range<Int>)] = []
            var text: [UInt8] = []
            while true {
                guard i < n, p[i] == UInt8(ascii: "\"") else { throw ScanFallback() }
                let key = try stringValue()
                try colon()
                let start = text.count
                try canonicalValue(into: &text, depth: depth + 1)
                members.append((key, start..<text.count))
                if try endOfMember(UInt8(ascii: "}")) { break }
            }
            members.sort { ByteCursor.precedes($0.key, $1.key) }
            out.append(UInt8(ascii: "{"))
            for k in members.indices {
                if k > 0 {
                    if ByteCursor.equal(members[k].key, members[k - 1].key) { throw ScanFallback() }
                    out.append(UInt8(ascii: ","))
                }
                JSONWriter.appendString(utf8: members[k].key, into: &out)
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: text[members[k].value])
            }
            out.append(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            if depth + 1 > ByteCursor.maxDepth { throw ScanFallback() }
            i += 1
            skipSpace()
            out.append(UInt8(ascii: "["))
            if !consume(UInt8(ascii: "]")) {
                while true {
                    try canonicalValue(into: &out, depth: depth + 1)
                    if try endOfMember(UInt8(ascii: "]")) { break }
                    out.append(UInt8(ascii: ","))
                }
            }
            out.append(UInt8(ascii: "]"))
        default:
            let start = i
            try skipValue(depth: depth)
            out.append(contentsOf: UnsafeBufferPointer(start: p + start, count: i - start))
        }
    }

    /// Checks a number (JSON grammar) and moves past it.
    mutating func number() throws(ScanFallback) {
        if i < n, p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n else { throw ScanFallback() }
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else if p[i] &- UInt8(ascii: "1") < 9 {
            i += 1
            while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
        } else {
            throw ScanFallback()
        }
        if i < n, p[i] == UInt8(ascii: ".") {
            i += 1
            let s = i
            while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            if i == s { throw ScanFallback() }
        }
        if i < n, p[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            let s = i
            while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            if i == s { throw ScanFallback() }
        }
    }

    /// Checks the string whose opening quote is at `i` and moves past it: the range of its
    /// contents and whether they have escapes.
    mutating func string() throws(ScanFallback) -> (Int, Int, Bool) {
        let start = i + 1
        var j = start
        var high: UInt64 = 0
        var escaped = false
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while true {
            // Eight bytes at a time up to a quote, a backslash or a control byte.
            while j &+ 8 <= n {
                let w = UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self)
                let q = w ^ 0x2222_2222_2222_2222
                let b = w ^ 0x5C5C_5C5C_5C5C_5C5C
                let hit = ((q &- ones) & ~q | (b &- ones) & ~b | (w &- 0x2020_2020_2020_2020) & ~w) & highs
                high |= w
                if hit != 0 {
                    j += hit.trailingZeroBitCount >> 3
                    break
                }
                j &+= 8
            }
            while j < n {
                let c = p[j]
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
                high |= UInt64(c & 0x80)
                j += 1
            }
            guard j < n else { throw ScanFallback() }
            let c = p[j]
            if c == UInt8(ascii: "\"") { break }
            guard c == UInt8(ascii: "\\"), j + 1 < n else { throw ScanFallback() }
            escaped = true
            switch p[j + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                j += 2
            case UInt8(ascii: "u"):
                let scalar = try hex4(j + 2)
                j += 6
                if scalar >= 0xD800, scalar < 0xDC00 {
                    guard j + 6 <= n, p[j] == UInt8(ascii: "\\"), p[j + 1] == UInt8(ascii: "u") else { throw ScanFallback() }
                    let low = try hex4(j + 2)
                    guard low >= 0xDC00, low < 0xE000 else { throw ScanFallback() }
                    j += 6
                } else if scalar >= 0xDC00, scalar < 0xE000 {
                    throw ScanFallback()
                }
            default:
                throw ScanFallback()
            }
        }
        // Escapes are ASCII, so checking the raw text checks every run between them, which is
        // what the decoded text's validity comes down to.
        if high & highs != 0, UTF8Check.firstInvalid(UnsafeBufferPointer(start: p + start, count: j - start)) != nil {
            throw ScanFallback()
        }
        i = j + 1
        return (start, j, escaped)
    }

    private func hex4(_ k: Int) throws(ScanFallback) -> UInt32 {
        guard k + 4 <= n else { throw ScanFallback() }
        var v: UInt32 = 0
        for d in 0..<4 {
            let c = p[k + d]
            let h: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): h = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): h = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): h = c - UInt8(ascii: "A") + 10
            default: throw ScanFallback()
            }
            v = v << 4 | UInt32(h)
        }
        return v
    }

    /// Decodes the (checked) string contents `start..<end` into the arena.
    private mutating func decode(_ start: Int, _ end: Int) -> UnsafeBufferPointer<UInt8> {
        let out = arena! + used
        var o = 0
        var j = start
        func put(_ v: UInt32) {
            switch v {
            case 0..<0x80:
                out[o] = UInt8(v)
                o += 1
            case 0x80..<0x800:
                out[o] = UInt8(0xC0 | v >> 6)
                out[o + 1] = UInt8(0x80 | v & 0x3F)
                o += 2
            case 0x800..<0x10000:
                out[o] = UInt8(0xE0 | v >> 12)
                out[o + 1] = UInt8(0x80 | v >> 6 & 0x3F)
                out[o + 2] = UInt8(0x80 | v & 0x3F)
                o += 3
            default:
                out[o] = UInt8(0xF0 | v >> 18)
                out[o + 1] = UInt8(0x80 | v >> 12 & 0x3F)
                out[o + 2] = UInt8(0x80 | v >> 6 & 0x3F)
                out[o + 3] = UInt8(0x80 | v & 0x3F)
                o += 4
            }
        }
        while j < end {
            let c = p[j]
            guard c == UInt8(ascii: "\\") else {
                out[o] = c
                o += 1
                j += 1
                continue
            }
            let e = p[j + 1]
            j += 2
            switch e {
            case UInt8(ascii: "b"): put(0x08)
            case UInt8(ascii: "f"): put(0x0C)
            case UInt8(ascii: "n"): put(0x0A)
            case UInt8(ascii: "r"): put(0x0D)
            case UInt8(ascii: "t"): put(0x09)
            case UInt8(ascii: "u"):
                var v = (try? hex4(j)) ?? 0
                j += 4
                if v >= 0xD800, v < 0xDC00 {
                    let low = (try? hex4(j + 2)) ?? 0xDC00
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                }
                put(v)
            default: put(UInt32(e))  // '"', '\\', '/'
            }
        }
        used += o
        return UnsafeBufferPointer(start: out, count: o)
    }

    /// Byte order of UTF-8 (code point order), as `JSONWriter` sorts keys.
    static func precedes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let common = min(a.count, b.count)
        if common > 0 {
            let c = memcmp(a.baseAddress!, b.baseAddress!, common)
            if c != 0 { return c < 0 }
        }
        return a.count < b.count
    }

    static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
}

/// First-pass facts of consecutive records, in input order, as parallel arrays (nothing is
/// allocated per record).
struct FactsRun {
    let permutations: Int
    var flags: [UInt8] = []
    var digests: [Digest128] = []
    var taskKeys: [UInt64] = []
    /// `permutations` values per record; zeros for a record without a signature.
    var signatures: [UInt16] = []
    var idBytes: [UInt8] = []
    var idEnds: [Int] = []

    init(permutations: Int) { self.permutations = permutations }

    var count: Int { flags.count }

    /// A decoded record (`oneLine`: it has no line break); its signature is computed from `hashes` when `hasher` is given.
    mutating func append(id: UnsafeBufferPointer<UInt8>, verified: Bool, oneLine: Bool, digest: Digest128, taskKey: UInt64?,
                         hashes: [UInt64], hasher: MinHasher?)
    {
        var flag = DedupIndex.decodedFlag
        if verified { flag |= DedupIndex.verifiedFlag }
        if oneLine { flag |= DedupIndex.oneLineFlag }
        if taskKey != nil { flag |= DedupIndex.taskFlag }
        let start = signatures.count
        signatures.append(contentsOf: repeatElement(0, count: permutations))
        if let hasher, !hashes.isEmpty, permutations > 0 {
            flag |= DedupIndex.signedFlag
            hashes.withUnsafeBufferPointer { h in
                signatures.withUnsafeMutableBufferPointer { s in
                    hasher.signature(of: h, into: UnsafeMutableBufferPointer(rebasing: s[start...]))
                }
            }
        }
        flags.append(flag)
        digests.append(digest)
        taskKeys.append(taskKey ?? 0)
        idBytes.append(contentsOf: id)
        idEnds.append(idBytes.count)
    }

    /// Facts from the ordinary decoder (or a record that is not a trajectory).
    mutating func append(_ f: RecordFacts) {
        var flag: UInt8 = 0
        if f.decoded { flag |= DedupIndex.decodedFlag }
        if f.verified { flag |= DedupIndex.verifiedFlag }
        if !f.signature.isEmpty { flag |= DedupIndex.signedFlag }
        if f.taskKey != nil { flag |= DedupIndex.taskFlag }
        flags.append(flag)
        digests.append(f.digest)
        taskKeys.append(f.taskKey ?? 0)
        if f.signature.isEmpty {
            signatures.append(contentsOf: repeatElement(0, count: permutations))
        } else {
            signatures.append(contentsOf: f.signature)
        }
        idBytes.append(contentsOf: f.id.utf8)
        idEnds.append(idBytes.count)
    }
}
