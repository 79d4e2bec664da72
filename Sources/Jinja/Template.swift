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
public final class RenderCache: @unchecked Sendable {
    struct Key: Hashable {
        let node: ObjectIdentifier
        let dict: ObjectIdentifier
    }

    private let lock = NSLock()
    private var entries: [Key: (dict: Dict, text: String)] = [:]
    private let limit: Int

    /// `limit` bounds the number of remembered dicts (the memo is emptied when it is reached).
    public init(limit: Int = 4096) { self.limit = limit }

    func text(node: AnyObject, dict: Dict) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return entries[Key(node: ObjectIdentifier(node), dict: ObjectIdentifier(dict))]?.text
    }

    func store(node: AnyObject, dict: Dict, text: String) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
        entries[Key(node: ObjectIdentifier(node), dict: ObjectIdentifier(dict))] = (dict, text)
    }
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
        var globals: [Value] = []
        globals.reserveCapacity(program.globalNames.count)
        for (i, n) in program.globalNames.enumerated() { globals.append(context[n] ?? program.defaultGlobals[i]) }
        let frame = Frame(count: program.slotCount, parent: nil)
        var s = RenderState(out: OutputBuffer(capacity: 8192), frame: frame, slots: frame.slots, globals: globals, budget: options.budget,
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
        return (s.out.bytes(from: 0), s.spans)
    }

    /// Renders and returns just the text.
    public func render(_ context: [String: Value], options: RenderOptions = RenderOptions()) throws(TemplateError) -> String {
        try render(context: context, options: options).text
    }
}
