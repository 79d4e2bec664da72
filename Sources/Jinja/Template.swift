// The public entry point: parse once, render many times (concurrently if you like).
//
//     let t = try Template(source: text, name: "xLAM.jinja")
//     let r = try t.render(context: ["messages": msgs, "add_generation_prompt": false])
//     r.text, r.generationSpans
//
// A Jinja2 interpreter that renders what Python jinja2 3.1.6 renders in HF transformers'
// chat-template environment (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
// loopcontrols, {% generation %}, transformers' tojson/raise_exception/strftime_now).
// The pipeline, one file per step:
//   Lexer.swift (Token.swift) -> Parser.swift (AST.swift) -> Scope.swift + Compiler.swift
//   -> Interpreter.swift (statements) + Expressions.swift (expressions)
// Values and Python semantics: Value.swift, PyOps.swift, PyStr.swift, PythonFormat.swift,
// PythonFloat.swift, Formatting.swift, JSONDumps.swift, Access.swift, Methods.swift.
// Registries: Filters.swift, Tests.swift, Globals.swift. Limits: Budget.swift. Errors: Errors.swift.

import Foundation

/// Options for one render.
public struct RenderOptions: Sendable {
    public var budget: Budget
    /// The clock behind `strftime_now` (defaults to the local time).
    public var now: @Sendable () -> CivilDateTime
    /// Remembers `tojson` output of dicts across renders that share the same values (for many
    /// renders of one conversation). Values are immutable in the sandbox, so a dict serializes
    /// the same way every time; the cache holds the dicts it keys on, so no address is reused.
    public var cache: RenderCache?
    /// Bytes to reserve for the output up front (e.g. the size of a similar earlier render), so
    /// a long render does not grow its buffer step by step.
    public var expectedOutputBytes = 8192

    public init(budget: Budget = .default, now: @escaping @Sendable () -> CivilDateTime = { CivilDateTime.now() }, cache: RenderCache? = nil) {
        self.budget = budget
        self.now = now
        self.cache = cache
    }

    /// Options whose `strftime_now` always sees the given moment.
    public static func pinned(to date: CivilDateTime, budget: Budget = .default) -> RenderOptions {
        RenderOptions(budget: budget, now: { date })
    }
}

/// A memo of `tojson` output shared by the renders that use it (see `RenderOptions.cache`).
/// Looked up on every `tojson` of a dict, so it is a small open-addressing table keyed by the two
/// object addresses (node, dict) rather than a `Dictionary` with its hashing.
public final class RenderCache: @unchecked Sendable {
    private struct Slot {
        var node: AnyObject?
        var dict: Dict?
        var text: String = ""
    }

    private let lock = NSLock()
    private var slots: [Slot]
    private var count = 0
    private let limit: Int
    private var mask: Int

    /// `limit` bounds the number of remembered dicts (the memo is emptied when it is reached).
    public init(limit: Int = 4096) {
        self.limit = max(limit, 1)
        mask = 63
        slots = Array(repeating: Slot(), count: 64)
    }

    @inline(__always)
    private func start(_ node: AnyObject, _ dict: Dict) -> Int {
        let a = UInt(bitPattern: Int(bitPattern: Unmanaged.passUnretained(node).toOpaque())) &* 0x9E37_79B9_7F4A_7C15
        let b = UInt(bitPattern: Int(bitPattern: Unmanaged.passUnretained(dict).toOpaque())) &* 0xC2B2_AE3D_27D4_EB4F
        return Int(truncatingIfNeeded: (a ^ b) >> 20) & mask
    }

    /// The slot holding (node, dict), or the empty slot where it would go. Call with the lock held.
    @inline(__always)
    private func probe(_ node: AnyObject, _ dict: Dict) -> (index: Int, found: Bool) {
        var i = start(node, dict)
        while slots[i].node != nil {
            if slots[i].node === node && slots[i].dict === dict { return (i, true) }
            i = (i + 1) & mask
        }
        return (i, false)
    }

    func text(node: AnyObject, dict: Dict) -> String? {
        lock.lock()
        defer { lock.unlock() }
        let (i, found) = probe(node, dict)
        return found ? slots[i].text : nil
    }

    /// Appends the remembered text for (node, dict) to `out`; false when there is none.
    func append(node: AnyObject, dict: Dict, to out: OutputBuffer) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let (i, found) = probe(node, dict)
        if found { out.append(slots[i].text) }
        return found
    }

    func store(node: AnyObject, dict: Dict, text: String) {
        lock.lock()
        defer { lock.unlock() }
        if count >= limit {
            for k in slots.indices { slots[k] = Slot() }
            count = 0
        }
        if (count + 1) * 2 > slots.count {
            // Keep the table at most half full: double it and re-insert.
            let old = slots
            slots = Array(repeating: Slot(), count: old.count * 2)
            mask = slots.count - 1
            for e in old {
                guard let n = e.node, let d = e.dict else { continue }
                var j = start(n, d)
                while slots[j].node != nil { j = (j + 1) & mask }
                slots[j] = e
            }
        }
        let (i, found) = probe(node, dict)
        if found { return }
        // The slot holds both objects, so neither address can be reused while the entry exists.
        slots[i] = Slot(node: node, dict: dict, text: text)
        count += 1
    }
}

/// A render context bound to one template's free names (`Template.bind`).
public struct BoundContext: @unchecked Sendable {
    let names: [String]
    var globals: [Value]

    /// Where `name` lives, if the template reads it (else setting it would change nothing).
    public func slot(of name: String) -> Int? { names.firstIndex(of: name) }

    /// Sets the value at `slot` (from `slot(of:)`).
    public mutating func set(slot: Int, _ value: Value) { globals[slot] = value }
}

/// The output of a render.
public struct RenderResult: Sendable {
    /// The rendered text.
    public var text: String
    /// UTF-8 byte ranges of `text` produced by `{% generation %}` blocks, in order.
    public var generationSpans: [Range<Int>]
}

/// A compiled template.
public struct Template: Sendable {
    public let name: String
    let program: Program

    /// Parses and compiles `source`. Throws a `.syntax` (or `.unsupported`) error with its location.
    public init(source: String, name: String = "<template>") throws(TemplateError) {
        self.name = name
        let bytes = Lexer.normalize(source)
        let map = SourceMap(bytes: bytes, name: name)
        var lexer = Lexer(normalized: bytes, map: map)
        let tokens = try lexer.tokenize()
        var parser = Parser(tokens: tokens, map: map)
        let body = try parser.parse()
        program = try Compiler(map: map).compile(body)
    }

    /// Renders with the given variables. Names the context does not define fall back to the
    /// builtins (`range`, `namespace`, `raise_exception`, `strftime_now`, ...) and then to undefined.
    public func render(context: [String: Value], options: RenderOptions = RenderOptions()) throws(TemplateError) -> RenderResult {
        let (bytes, spans) = try renderUTF8(context: context, options: options)
        return RenderResult(text: String(decoding: bytes, as: UTF8.self), generationSpans: spans)
    }

    /// Renders to UTF-8 bytes (and the generation spans, as byte ranges), without building a String.
    public func renderUTF8(context: [String: Value], options: RenderOptions = RenderOptions()) throws(TemplateError) -> (bytes: [UInt8], generationSpans: [Range<Int>]) {
        try renderUTF8(bound: bind(context), options: options)
    }

    /// The context's values for the names this template reads (builtins where it has none), looked
    /// up once: many renders of similar contexts then change only a few names (`BoundContext.set`).
    public func bind(_ context: [String: Value]) -> BoundContext {
        var globals: [Value] = []
        globals.reserveCapacity(program.globalNames.count)
        for (i, n) in program.globalNames.enumerated() { globals.append(context[n] ?? program.defaultGlobals[i]) }
        return BoundContext(names: program.globalNames, globals: globals)
    }

    /// Renders a bound context (see `bind`).
    public func renderUTF8(bound: BoundContext, options: RenderOptions = RenderOptions()) throws(TemplateError) -> (bytes: [UInt8], generationSpans: [Range<Int>]) {
        precondition(bound.names == program.globalNames, "a BoundContext renders only with the template that bound it")
        // The output is written straight into the result array's storage, sized from the expected
        // length; only a render that outgrows it is copied out of the buffer it moved to.
        let capacity = max(16, min(max(options.expectedOutputBytes, 256), options.budget.maxOutputBytes))
        var spans: [Range<Int>] = []
        var failure: TemplateError?
        var overflow: [UInt8]?
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            let out = OutputBuffer(external: buffer.baseAddress!, capacity: buffer.count)
            do throws(TemplateError) {
                spans = try run(bound.globals, out, options)
            } catch {
                failure = error
            }
            if out.isExternal {
                initialized = failure == nil ? out.count : 0
            } else {
                initialized = 0
                if failure == nil { overflow = out.bytes(from: 0) }
            }
        }
        if let failure { throw failure }
        return (overflow ?? bytes, spans)
    }

    /// Runs the program into `out`; returns the generation spans.
    private func run(_ globals: [Value], _ out: OutputBuffer, _ options: RenderOptions) throws(TemplateError) -> [Range<Int>] {
        let frame = Frame(count: program.slotCount, parent: nil)
        var s = RenderState(out: out, frame: frame, slots: frame.slots, globals: globals, budget: options.budget,
                            stack: StackGuard(maxBytes: options.budget.maxStackBytes), clock: options.now, map: program.map)
        s.cache = options.cache
        defer {
            frame.clear()
            for o in s.cyclic {
                if let f = o as? Frame { f.clear() } else if let ns = o as? Namespace { ns.values = [] }
            }
        }
        runInits(program.inits, &s)
        do {
            _ = try execBlock(program.body, &s)
        } catch {
            var e = error
            if e.templateName.isEmpty { e.templateName = name }
            throw e
        }
        return s.spans
    }

    /// Renders and returns just the text.
    public func render(_ context: [String: Value], options: RenderOptions = RenderOptions()) throws(TemplateError) -> String {
        try render(context: context, options: options).text
    }
}
