import BPE
import ByteJSON
import Foundation
import Jinja

/// How trajectories become SFT samples.
public enum RenderMode: String, Sendable, CaseIterable {
    /// One sample per assistant reply: that reply supervised, everything before it context (APIGen-MT).
    case perTurn = "per-turn"
    /// One sample per trajectory, every assistant reply supervised (needs a prefix-stable template).
    case allTurns = "all-turns"
}

/// What `render` writes.
public enum RenderOutput: String, Sendable, CaseIterable {
    /// `{id, text, spans, …}` (+ `input_ids`, `labels` with a tokenizer): schemas/sample.schema.json
    case rendered
    /// TRL conversational: per-turn `{prompt, completion, tools}`, all-turns `{messages, tools}`.
    case trl
    /// LLaMA-Factory ShareGPT, each sample's conversation ending at its supervised reply.
    case sharegpt
}

public struct SFTRenderOptions: Sendable {
    public var mode: RenderMode = .perTurn
    public var output: RenderOutput = .rendered
    public var arguments: ArgumentsForm = .object
    /// Extra template variables (`--var`), e.g. `tools_in_user_message: false`.
    public var variables: JSONObject = [:]
    /// Pins `strftime_now` and `date_string`.
    public var date: CivilDateTime?
    public var budget: Budget = .default
    /// Keep samples whose supervised span has no end-of-turn token (dropped by default).
    public var allowMissingEndOfTurn = false
    public var tokenization: TokenizationOptions?
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()
    public init() {}
}

/// The render stage: canonical trajectories → SFT samples, rendered with the model's own chat
/// template, with supervised character spans (and token ids and labels with a tokenizer).
public final class SFTRenderer {
    let template: ChatTemplate
    let options: SFTRenderOptions
    public private(set) var ledger = Ledger(stage: "render")
    /// Tool lists seen by this renderer, converted and serialized once (see `SharedTools`).
    let sharedTools = SharedTools()
    let variables: TemplateVariables

    public init(template: ChatTemplate, options: SFTRenderOptions) {
        self.template = template
        self.options = options
        variables = RenderSession.variables(template, options)
        ledger.outputUnit = "samples"
    }

    /// The samples of one trajectory (its JSONL lines, drops and counts), without the file plumbing.
    public func renderSamples(_ t: Trajectory) -> ItemOutput {
        var out = ItemOutput()
        var session = RenderSession(t, template: template, options: options, tracing: false, sharedTools: sharedTools, variables: variables)
        session.produce(into: &out)
        return out
    }

    /// Benchmarks: only the template renders behind one trajectory's per-turn samples (for each
    /// reply, the conversation through it and the prompt before it, as transformers renders them),
    /// without spans, tokens or sample lines. Returns the bytes rendered.
    public func renderTurnsOnly(_ t: Trajectory) -> Int {
        var session = RenderSession(t, template: template, options: options, tracing: false, sharedTools: sharedTools, variables: variables)
        var bytes = 0
        for k in t.messages.indices where t.messages[k].role == .assistant {
            let i = session.context.offset + k
            if case .success(let b) = session.render(count: i + 1, generationPrompt: false) { bytes += b.count }
            if case .success(let b) = session.render(count: i, generationPrompt: true) { bytes += b.count }
        }
        return bytes
    }

    /// `trace`, if given, receives every template render: its variables and its output (or the
    /// error), for `tools/render_conformance.py` to replay with Python jinja2.
    public func run(inputs: [String], output: OutputFile, rejects: OutputFile?, drops: OutputFile?, trace: OutputFile?) throws(IOError) {
        let template = self.template
        let options = self.options
        let sharedTools = self.sharedTools
        let variables = self.variables
        let tracing = trace != nil
        if let trace {
            // The first trace line says which template (and clock) the renders used.
            var header: JSONObject = ["template": .string(template.name), "sha256": .string(template.sha256), "source": .string(template.source)]
            if let date = options.date { header["date"] = .string(formatDate(date, "%Y-%m-%d")) }
            try trace.write(JSON.object(header).serializedBytes() + [0x0A])
        }
        try TrajectoryStage.run(inputs: inputs, stage: "render", threads: options.threads, limits: options.limits, ledger: &ledger,
                                output: output, rejects: rejects, drops: drops, side: trace) { t, out in
            var session = RenderSession(t, template: template, options: options, tracing: tracing, sharedTools: sharedTools, variables: variables)
            session.produce(into: &out)
            if tracing {
                // Also the whole conversation, and all but its last message with a generation prompt.
                let n = session.context.messageValues.count
                _ = session.render(count: n, generationPrompt: false)
                if n > 1 { _ = session.render(count: n - 1, generationPrompt: true) }
            }
            out.side = session.trace
        }
        if template.readsClock && options.date == nil {
            ledger.note("the template reads the clock (strftime_now): pass --date YYYY-MM-DD for reproducible output")
        }
        let methods = ["prefix", "sentinel"].compactMap { m in ledger.counters["spans found by \(m)"].map { "\(m) \($0)" } }
        if !methods.isEmpty { ledger.note("spans found: \(methods.joined(separator: ", "))") }
    }
}

/// Rendering one trajectory.
struct RenderSession {
    let t: Trajectory
    let template: ChatTemplate
    let options: SFTRenderOptions
    let context: ChatContext
    var renderOptions: Jinja.RenderOptions
    /// The template variables bound once; each render sets only its messages and generation flag.
    let boundContext: BoundContext
    let messagesSlot: Int?
    /// `context.messageValues[0..<n]` of the latest render.
    var prefix: [Value] = []
    let generationPromptSlot: Int?
    let tracing: Bool
    var trace: [JSON] = []
    /// The previous sample's text, its JSON-escaped form and its scalar count: per-turn texts of a
    /// prefix-stable template extend each other, so only the new tail is escaped and counted.
    var previousText: [UInt8] = []
    var previousEscaped: [UInt8] = []
    var previousScalars = 0
    /// Token ids of text pieces already encoded for this trajectory's samples (they share all but
    /// their newest pieces).
    let tokenMemo: EncodingMemo?

    /// Stands in for an assistant reply's content when a template is not prefix-stable.
    static let sentinel = "\u{E000}trajforge-span\u{E001}"

    init(_ t: Trajectory, template: ChatTemplate, options: SFTRenderOptions, tracing: Bool, sharedTools: SharedTools? = nil,
         variables: TemplateVariables? = nil) {
        self.t = t
        self.template = template
        self.options = options
        self.tracing = tracing
        tokenMemo = options.tokenization != nil && options.mode == .perTurn ? EncodingMemo() : nil
        context = ChatContext(t, template: template, arguments: options.arguments,
                              variables: variables ?? RenderSession.variables(template, options), sharedTools: sharedTools)
        // A tojson memo: the renders of a trajectory share its tool and argument dicts (and
        // trajectories with the same tool list share that list's memo).
        var render = options.date.map { Jinja.RenderOptions.pinned(to: $0, budget: options.budget) } ?? Jinja.RenderOptions(budget: options.budget)
        render.cache = context.toolsCache ?? RenderCache()
        renderOptions = render
        boundContext = template.template.bind(context.variables(messages: [], generationPrompt: false))
        messagesSlot = boundContext.slot(of: "messages")
        generationPromptSlot = boundContext.slot(of: "add_generation_prompt")
    }

    /// The special tokens and `--var`s (and `date_string` with a pinned date) of every render.
    static func variables(_ template: ChatTemplate, _ options: SFTRenderOptions) -> TemplateVariables {
        var extra = options.variables
        if let date = options.date, extra["date_string"] == nil {
            extra["date_string"] = .string(formatDate(date, "%d %b %Y"))
        }
        return TemplateVariables(template: template, extra: extra)
    }

    /// Renders `count` template messages (optionally with one replaced), recording the trace.
    mutating func render(count: Int, generationPrompt: Bool, replacingLast: (JSON, Value)? = nil) -> Result<[UInt8], TemplateError> {
        // The renders of a trajectory move along its messages: the one prefix array is trimmed or
        // extended in place (it is uniquely held again once the previous render is done).
        while prefix.count > count { prefix.removeLast() }
        while prefix.count < count { prefix.append(context.messageValues[prefix.count]) }
        var values = prefix
        if let (_, value) = replacingLast { values[count - 1] = value }
        let result: Result<[UInt8], TemplateError>
        do throws(TemplateError) {
            var bound = boundContext
            if let slot = messagesSlot { bound.set(slot: slot, .list(values)) }
            if let slot = generationPromptSlot { bound.set(slot: slot, .bool(generationPrompt)) }
            let bytes = try template.template.renderUTF8(bound: bound, options: renderOptions).bytes
            // The renders of a trajectory grow turn by turn: room for the next one up front.
            renderOptions.expectedOutputBytes = bytes.count + bytes.count / 4 + 4096
            result = .success(bytes)
        } catch {
            result = .failure(error)
        }
        if tracing {
            var messages = Array(context.messagesJSON[0..<count])
            if let (json, _) = replacingLast { messages[count - 1] = json }
            var line: JSONObject = ["template": .string(template.name), "record": .string(t.id),
                                    "variables": context.variablesJSON(messages: messages, generationPrompt: generationPrompt)]
            switch result {
            case .success(let bytes): line["output"] = .string(String(decoding: bytes, as: UTF8.self))
            case .failure(let e): line["error"] = ["kind": .string(e.kind.rawValue), "message": .string(e.message)]
            }
            trace.append(.object(line))
        }
        return result
    }

    /// A supervised span (UTF-8 byte range of the text) and how it was found.
    struct Span {
        var range: Range<Int>
        var method: String
    }

    enum SampleFailure: Error {
        case drop(reason: String, detail: String)
    }

    /// Renders the conversation through the assistant reply at template index `i` and finds the
    /// reply's span: after the generation prompt when the template is prefix-stable there, else at
    /// a sentinel that replaces the reply; it ends after the reply's end-of-turn token.
    mutating func turn(_ i: Int) -> Result<([UInt8], Span), SampleFailure> {
        let full: [UInt8]
        switch render(count: i + 1, generationPrompt: false) {
        case .success(let b): full = b
        case .failure(let e): return .failure(.drop(reason: "template-error", detail: e.description))
        }
        var start: Int?
        var method = "prefix"
        if case .success(let prompt) = render(count: i, generationPrompt: true), hasPrefix(full, prompt) {
            start = prompt.count
        } else {
            // The reply starts where a render with a sentinel reply in its place first differs. The
            // stretch between that point and the sentinel is the template's own lead-in for a text
            // reply (e.g. a space); a long stretch, or one crossing an end-of-turn token, means the
            // template rewrote earlier text and no span can be trusted.
            method = "sentinel"
            let json: JSON = ["role": "assistant", "content": .string(RenderSession.sentinel)]
            if case .success(let head) = render(count: i + 1, generationPrompt: false, replacingLast: (json, Value(json: json))),
               let p = find(Array(RenderSession.sentinel.utf8), in: head)
            {
                var common = 0
                while common < p, common < full.count, head[common] == full[common] { common += 1 }
                let leadIn = Array(head[common..<p])
                if p - common <= 64, !template.endOfTurn.contains(where: { find(Array($0.utf8), in: leadIn) != nil }) {
                    start = common
                }
            }
        }
        guard let start else {
            return .failure(.drop(reason: "span-not-found",
                                  detail: "the reply's place in the rendered text could not be found (neither prefix rendering nor the sentinel method applies)"))
        }
        var end = full.count
        var closed = false
        for marker in template.endOfTurn {
            if let r = findLast(Array(marker.utf8), in: full, from: start), !closed || r.upperBound > end {
                end = r.upperBound
                closed = true
            }
        }
        if !closed {
            while end > start, isJSONWhitespace(full[end - 1]) { end -= 1 }
            if !options.allowMissingEndOfTurn {
                return .failure(.drop(reason: "no-end-of-turn",
                                      detail: "no end-of-turn token (\(template.endOfTurn.joined(separator: ", "))) after the reply; the model would never learn to stop (--allow-missing-eot keeps it)"))
            }
        }
        guard end > start else { return .failure(.drop(reason: "empty-span", detail: "the reply renders to nothing")) }
        return .success((full, Span(range: start..<end, method: method)))
    }

    /// Produces this trajectory's samples (or its drops) into `out`.
    mutating func produce(into out: inout ItemOutput) {
        let replies = t.messages.indices.filter { t.messages[$0].role == .assistant }
        if replies.isEmpty {
            out.drop(Drop(id: t.id, stage: "render", reason: "no-assistant-turn", detail: "nothing to supervise"))
            return
        }
        switch options.mode {
        case .perTurn:
            var produced = 0
            for k in replies {
                switch turn(context.offset + k) {
                case .success(let (text, span)):
                    if emit(text: text, spans: [span.range], methods: [span.method], turns: [k], into: &out) { produced += 1 }
                case .failure(.drop(let reason, let detail)):
                    out.count("samples dropped: \(reason)")
                    out.drops.append(Drop(id: "\(t.id)#\(k)", stage: "render", reason: reason, detail: detail))
                }
            }
            if produced > 0 { out.kept += 1 } else { out.drop(Drop(id: t.id, stage: "render", reason: "no-samples", detail: "every reply was dropped (see its sample drops)")) }
        case .allTurns:
            var spans: [Range<Int>] = []
            var methods: [String] = []
            var text: [UInt8] = []
            for k in replies {
                switch turn(context.offset + k) {
                case .success(let (full, span)):
                    // Later renders must extend earlier ones for the spans to stay in place.
                    guard hasPrefix(full, text) else {
                        out.drop(Drop(id: t.id, stage: "render", reason: "not-prefix-stable",
                                      detail: "rendering through reply \(k) rewrites earlier text; use --mode per-turn with this template"))
                        return
                    }
                    text = full
                    spans.append(span.range)
                    methods.append(span.method)
                case .failure(.drop(let reason, let detail)):
                    out.drop(Drop(id: t.id, stage: "render", reason: reason, detail: "reply at messages[\(k)]: \(detail)"))
                    return
                }
            }
            if emit(text: text, spans: spans, methods: methods, turns: replies, into: &out) { out.kept += 1 }
        }
    }

    /// Writes one sample in the chosen output form; false if it was dropped (tokenization).
    mutating func emit(text: [UInt8], spans: [Range<Int>], methods: [String], turns: [Int], into out: inout ItemOutput) -> Bool {
        let id = options.mode == .perTurn ? "\(t.id)#\(turns[0])" : t.id
        for m in methods { out.count("spans found by \(m)") }
        var record = JSONObject()
        switch options.output {
        case .rendered:
            // Written member by member: the text goes from the render's bytes straight into the
            // line (the sample text is most of the output; no String is made for it).
            var tokens: TokenizationOptions.Tokens?
            if let tokenization = options.tokenization {
                switch tokenization.tokenize(text: String(decoding: text, as: UTF8.self), bytes: text, spans: spans, memo: tokenMemo) {
                case .success(let t):
                    tokens = t
                    out.count("supervised tokens", t.supervised)
                    out.count("tokens", t.total)
                    if t.truncated { out.count("samples truncated") }
                case .failure(let failure):
                    out.count("samples dropped: \(failure.reason)")
                    out.drops.append(Drop(id: id, stage: "render", reason: failure.reason, detail: failure.detail))
                    return false
                }
            }
            // Appended straight to the stage's output lines (no intermediate copy of the text).
            let lineStart = out.lines.count
            func member(_ key: String, _ value: JSON) {
                out.lines.append(out.lines.count == lineStart ? UInt8(ascii: "{") : UInt8(ascii: ","))
                JSONWriter.appendString(key, into: &out.lines)
                out.lines.append(UInt8(ascii: ":"))
                JSONWriter.compact.write(value, into: &out.lines)
            }
            member("id", .string(id))
            member("trajectory_id", .string(t.id))
            member("mode", .string(options.mode.rawValue))
            member("turns", .array(turns.map { .number(JSONNumber($0)) }))
            out.lines += Array(#","text":""#.utf8)
            extendFromPrevious(text)
            out.lines += previousEscaped
            out.lines.append(UInt8(ascii: "\""))
            member("spans", .array(scalarSpans(text, spans).map { .array([.number(JSONNumber($0.lowerBound)), .number(JSONNumber($0.upperBound))]) }))
            member("span_method", .string(methods.contains("sentinel") ? "sentinel" : "prefix"))
            member("template", ["name": .string(template.name), "sha256": .string(template.sha256)])
            tokens?.appendMembers(into: &out.lines)
            member("group", t.group.map(JSON.string) ?? .null)
            member("domain", t.domain.map(JSON.string) ?? .null)
            member("success", t.outcome?.success.map(JSON.bool) ?? .null)
            member("source", t.source.json)
            out.lines.append(UInt8(ascii: "}"))
            out.lines.append(0x0A)
            out.outputs += 1
            return true
        case .trl:
            let upTo = context.offset + turns.last! + 1
            let conversation = Array(context.messagesJSON[0..<upTo])
            if options.mode == .perTurn {
                record["prompt"] = .array(Array(conversation.dropLast()))
                record["completion"] = .array([conversation.last!])
            } else {
                record["messages"] = .array(conversation)
            }
            record["tools"] = t.tools.isEmpty ? .array([]) : .array(t.tools)
            record["id"] = .string(id)
        case .sharegpt:
            var cut = t
            cut.messages = Array(t.messages[...turns.last!])
            var (visible, _) = Exporter.shareGPTRecord(cut, arguments: options.arguments)
            visible["id"] = .string(id)
            record = visible
        }
        out.emit(.object(record))
        return true
    }

    /// Makes `previous*` describe `text`, reusing the work done for the previous text when it is a prefix.
    mutating func extendFromPrevious(_ text: [UInt8]) {
        if !previousText.isEmpty, hasPrefix(text, previousText) {
            text.withUnsafeBufferPointer { JSONWriter.appendEscaped(utf8: UnsafeBufferPointer(rebasing: $0[previousText.count...]), into: &previousEscaped) }
            previousScalars += scalarCount(text, previousText.count..<text.count)
        } else {
            previousEscaped.removeAll(keepingCapacity: true)
            text.withUnsafeBufferPointer { JSONWriter.appendEscaped(utf8: $0, into: &previousEscaped) }
            previousScalars = scalarCount(text, 0..<text.count)
        }
        previousText = text
    }

    /// UTF-8 byte ranges of `text` as Unicode-scalar (Python str) index ranges; spans are
    /// increasing, so scalars are counted in one pass (from the previous text's count when the
    /// spans lie past it: `previous*` must describe `text` already).
    func scalarSpans(_ text: [UInt8], _ spans: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var cursorByte = 0
        var cursorScalar = 0
        if let first = spans.first, previousText.count == text.count, first.lowerBound > text.count / 2 {
            // Count back from the end, whose scalar count is known.
            cursorByte = first.lowerBound
            cursorScalar = previousScalars - scalarCount(text, first.lowerBound..<text.count)
        }
        for s in spans {
            cursorScalar += scalarCount(text, cursorByte..<s.lowerBound)
            out.append(cursorScalar..<(cursorScalar + scalarCount(text, s)))
            cursorByte = s.lowerBound
        }
        return out
    }
}

/// First occurrence of `needle` in `haystack`.
func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
    var i = 0
    while i <= haystack.count - needle.count {
        if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        i += 1
    }
    return nil
}

/// Last occurrence of `needle` in `haystack[from...]`.
func findLast(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Range<Int>? {
    guard !needle.isEmpty, haystack.count - from >= needle.count else { return nil }
    var i = haystack.count - needle.count
    while i >= from {
        if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
        i -= 1
    }
    return nil
}

/// `date` formatted like Python's `strftime` (through the template engine's own strftime_now).
func formatDate(_ date: CivilDateTime, _ format: String) -> String {
    let source = "{{ strftime_now(fmt) }}"
    guard let t = try? Template(source: source, name: "date"),
          let text = try? t.render(["fmt": .string(format)], options: Jinja.RenderOptions.pinned(to: date))
    else { return "" }
    return text
}

/// True when `bytes` starts with `prefix` (memcmp).
func hasPrefix(_ bytes: [UInt8], _ prefix: [UInt8]) -> Bool {
    guard bytes.count >= prefix.count else { return false }
    return bytes.withUnsafeBytes { a in prefix.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, prefix.count) == 0 } }
}

/// Unicode scalars in `bytes[range]` (valid UTF-8): bytes that are not continuation bytes,
/// counted eight at a time.
func scalarCount(_ bytes: [UInt8], _ range: Range<Int>) -> Int {
    bytes.withUnsafeBytes { raw in
        var i = range.lowerBound
        var n = 0
        while i + 8 <= range.upperBound {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // A continuation byte is 10xxxxxx: high bit set and the next bit clear.
            let continuation = w & ~(w << 1) & 0x8080_8080_8080_8080
            n += 8 - continuation.nonzeroBitCount
            i += 8
        }
        while i < range.upperBound {
            if raw[i] & 0xC0 != 0x80 { n += 1 }
            i += 1
        }
        return n
    }
}
