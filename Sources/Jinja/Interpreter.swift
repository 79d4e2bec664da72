// Evaluation: the compiled template is a tree of node objects; rendering walks it with one
// mutable `RenderState` passed `inout` (output buffer, current frame, budget counters).
// This file holds the state, frames and statement nodes; Expressions.swift holds expressions.

/// Everything one render mutates.
struct RenderState {
    /// The output, built as UTF-8 bytes. Captures (macro bodies, `{% set %}` blocks) write here
    /// too and cut their bytes off again when done.
    let out: OutputBuffer
    /// The current function's variables.
    var frame: Frame { didSet { slots = frame.slots } }
    /// `frame.slots`, kept alongside so variable access does not touch the frame object.
    var slots: UnsafeMutablePointer<Value>
    /// Values of the template's free names, resolved once from the render context and builtins.
    let globals: [Value]
    let budget: Budget
    var stack: StackGuard
    let clock: @Sendable () -> CivilDateTime
    let map: SourceMap
    var callDepth = 0
    var loopIterations = 0
    /// Start offsets of the captures in progress (outermost first).
    var captureStarts: [Int] = []
    /// Byte ranges produced by `{% generation %}` blocks.
    var spans: [Range<Int>] = []
    /// Frames holding macros and namespaces created in this render; cleared at the end to break
    /// reference cycles (a macro refers to the frame that holds it).
    var cyclic: [AnyObject] = []
    /// The `tojson` memo shared across renders, if the caller gave one.
    var cache: RenderCache?

    @inline(__always)
    func locate(_ e: TemplateError, _ pos: SourcePos) -> TemplateError {
        e.hasLocation ? e : map.locate(e, at: pos)
    }

    @inline(__always)
    func checkOutput() throws(TemplateError) {
        if out.count > budget.maxOutputBytes {
            throw TemplateError(.outputLimit, "output exceeds the budget's limit of \(budget.maxOutputBytes) bytes")
        }
    }

    mutating func countIteration() throws(TemplateError) {
        loopIterations += 1
        if loopIterations > budget.maxLoopIterations {
            throw TemplateError(.loopLimit, "more than \(budget.maxLoopIterations) loop iterations (the budget's limit)")
        }
    }

    /// Enters a function call (macro or generation block).
    mutating func enterCall() throws(TemplateError) {
        callDepth += 1
        if callDepth > budget.maxCallDepth {
            callDepth -= 1
            throw TemplateError(.recursionLimit, "maximum recursion depth exceeded: more than \(budget.maxCallDepth) nested macro calls")
        }
        if stack.exceeded() {
            callDepth -= 1
            throw TemplateError(.recursionLimit, "maximum recursion depth exceeded: the render used up its native stack budget")
        }
    }

    /// Runs `body` writing into the output, then removes what it wrote and returns it.
    mutating func capture(_ body: (inout RenderState) throws(TemplateError) -> Void) throws(TemplateError) -> String {
        let start = out.count
        captureStarts.append(start)
        defer { captureStarts.removeLast() }
        try body(&self)
        let text = out.string(from: start)
        out.truncate(start)
        return text
    }
}

/// The variables of one function invocation (the template body, a macro call, a generation block).
final class Frame {
    let slots: UnsafeMutablePointer<Value>
    let count: Int
    /// The frame of the function this one is nested in (a macro's defining frame).
    let parent: Frame?

    init(count: Int, parent: Frame?) {
        self.count = count
        self.parent = parent
        slots = .allocate(capacity: max(count, 1))
        slots.initialize(repeating: .undefined(nil), count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    @inline(__always)
    func ancestor(_ hops: Int) -> Frame {
        var f = self
        for _ in 0..<hops { f = f.parent! }
        return f
    }

    func clear() {
        for i in 0..<count { slots[i] = .undefined(nil) }
    }
}

/// How a slot is initialised when its frame is entered (jinja's VAR_LOAD_* instructions).
enum SlotInit: Sendable {
    /// From the render context / builtins.
    case resolve(slot: Int, global: Int)
    /// A copy of a variable of an enclosing scope (`hops` functions up).
    case alias(slot: Int, hops: Int, from: Int)
    /// Not yet assigned: reads as undefined.
    case undefined(slot: Int)
}

@inline(__always)
func runInits(_ inits: [SlotInit], _ s: inout RenderState) {
    if inits.isEmpty { return }
    let slots = s.slots
    for i in inits {
        switch i {
        case .resolve(let slot, let g): slots[slot] = s.globals[g]
        case .alias(let slot, let hops, let from): slots[slot] = hops == 0 ? slots[from] : s.frame.ancestor(hops).slots[from]
        case .undefined(let slot): slots[slot] = .undefined(nil)
        }
    }
}

enum Flow { case normal, breakLoop, continueLoop }

/// A compiled statement.
class StmtNode {
    let pos: SourcePos
    init(_ pos: SourcePos) { self.pos = pos }
    func exec(_ s: inout RenderState) throws(TemplateError) -> Flow { .normal }
}

@inline(__always)
func execBlock(_ nodes: [StmtNode], _ s: inout RenderState) throws(TemplateError) -> Flow {
    var i = 0
    let count = nodes.count
    var failure: TemplateError? = nil
    while i < count {
        // The program owns every node for the whole render: no need to retain it here.
        let f: Flow = Unmanaged.passUnretained(nodes[i])._withUnsafeGuaranteedRef { n in
            do throws(TemplateError) { return try n.exec(&s) } catch {
                failure = s.locate(error, n.pos)
                return .normal
            }
        }
        if let failure { throw failure }
        i += 1
        if case .normal = f { continue }
        return f
    }
    return .normal
}

// MARK: - Output

final class OutputNode: StmtNode {
    enum Piece {
        case bytes([UInt8])
        case expr(ExprNode)
    }
    /// Owns the expressions.
    let exprs: [ExprNode]
    /// Per piece: the expression to write, or nil for the text `text[ranges[i]]`.
    let refs: [Unmanaged<ExprNode>?]
    let text: [UInt8]
    let ranges: [Range<Int>]

    init(_ pieces: [Piece], _ pos: SourcePos) {
        var exprs: [ExprNode] = []
        var refs: [Unmanaged<ExprNode>?] = []
        var text: [UInt8] = []
        var ranges: [Range<Int>] = []
        for p in pieces {
            switch p {
            case .bytes(let b):
                refs.append(nil)
                ranges.append(text.count..<(text.count + b.count))
                text.append(contentsOf: b)
            case .expr(let e):
                exprs.append(e)
                refs.append(Unmanaged.passUnretained(e))
                ranges.append(0..<0)
            }
        }
        self.exprs = exprs
        self.refs = refs
        self.text = text
        self.ranges = ranges
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        for i in 0..<refs.count {
            if let e = refs[i] {
                try writeUnretained(e, &s)
            } else {
                let r = ranges[i]
                text.withUnsafeBufferPointer { s.out.append(UnsafeBufferPointer(rebasing: $0[r])) }
            }
        }
        try s.checkOutput()
        return .normal
    }
}

// MARK: - Control flow

/// `if`/`elif`/`else`: an `elif` is an IfNode in the else branch.
final class IfNode: StmtNode {
    let test: ExprNode
    let body: [StmtNode]
    let elseBody: [StmtNode]

    init(test: ExprNode, body: [StmtNode], elseBody: [StmtNode], _ pos: SourcePos) {
        self.test = test
        self.body = body
        self.elseBody = elseBody
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        if try test.truthy(&s) { return try execBlock(body, &s) }
        return try execBlock(elseBody, &s)
    }
}

final class BreakNode: StmtNode {
    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow { .breakLoop }
}

final class ContinueNode: StmtNode {
    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow { .continueLoop }
}

/// A statement that always raises (tags HF's environment cannot run, unknown filters in
/// conditional code).
final class FailNode: StmtNode {
    let error: TemplateError
    init(_ error: TemplateError, _ pos: SourcePos) {
        self.error = error
        super.init(pos)
    }
    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow { throw s.locate(error, pos) }
}

// MARK: - For loops

final class ForNode: StmtNode {
    let iter: ExprNode
    let target: AssignTarget
    /// The slot of `loop` when the body uses it.
    let loopSlot: Int?
    let bodyInits: [SlotInit]
    let body: [StmtNode]
    let elseInits: [SlotInit]
    let elseBody: [StmtNode]
    /// `for x in xs if test`: the target as seen by the test, the test, and its frame inits.
    let testTarget: AssignTarget?
    let test: ExprNode?
    let testInits: [SlotInit]

    init(iter: ExprNode, target: AssignTarget, loopSlot: Int?, bodyInits: [SlotInit], body: [StmtNode],
         elseInits: [SlotInit], elseBody: [StmtNode], testTarget: AssignTarget?, test: ExprNode?,
         testInits: [SlotInit], _ pos: SourcePos) {
        self.iter = iter
        self.target = target
        self.loopSlot = loopSlot
        self.bodyInits = bodyInits
        self.body = body
        self.elseInits = elseInits
        self.elseBody = elseBody
        self.testTarget = testTarget
        self.test = test
        self.testInits = testInits
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        let source = try iter.eval(&s)
        let items: [Value]
        do { items = try Py.iterate(source) } catch { throw s.locate(error, iter.pos) }
        var ran = false
        if test == nil && loopSlot == nil {
            for item in items {
                try s.countIteration()
                try target.assign(item, &s, pos)
                runInits(bodyInits, &s)
                let f = try execBlock(body, &s)
                // jinja clears its "no iteration" flag only when a body runs to the end.
                if case .normal = f { ran = true }
                if case .breakLoop = f { break }
            }
        } else {
            let loop = LoopObject(items: items, node: self, frame: s.frame)
            if test != nil { runInits(testInits, &s) }
            while let item = try loop.advance(&s) {
                try s.countIteration()
                try target.assign(item, &s, pos)
                if let loopSlot { s.slots[loopSlot] = .object(loop) }
                runInits(bodyInits, &s)
                let f = try execBlock(body, &s)
                if case .normal = f { ran = true }
                if case .breakLoop = f { break }
            }
        }
        if !ran && !elseBody.isEmpty {
            // (`ran` stays false when every iteration ended in break/continue, as in jinja.)
            runInits(elseInits, &s)
            return try execBlock(elseBody, &s)
        }
        return .normal
    }

    /// Whether `item` passes the loop's `if` test.
    func accepts(_ item: Value, _ s: inout RenderState) throws(TemplateError) -> Bool {
        guard let test, let testTarget else { return true }
        try testTarget.assign(item, &s, pos)
        return try test.truthy(&s)
    }
}

// MARK: - Assignment

/// Where an assignment stores: a variable, a tuple of targets, or a namespace attribute.
enum AssignTarget {
    case slot(Int)
    indirect case tuple([AssignTarget])
    case namespace(ExprNode, String)

    func assign(_ v: Value, _ s: inout RenderState, _ pos: SourcePos) throws(TemplateError) {
        switch self {
        case .slot(let i):
            s.slots[i] = v
        case .tuple(let targets):
            let items: [Value]
            switch v {
            case .list(let a), .tuple(let a): items = a
            case .undefined(let info):
                if info?.isSecurity == true { throw s.locate(Py.undefinedError(info), pos) }
                items = []
            default:
                guard Py.isIterable(v) || Py.isObjectIterable(v) else {
                    throw s.locate(TemplateError(.type, "cannot unpack non-iterable \(Py.typeName(v)) object"), pos)
                }
                do { items = try Py.iterate(v) } catch { throw s.locate(error, pos) }
            }
            if items.count < targets.count {
                throw s.locate(TemplateError(.value, "not enough values to unpack (expected \(targets.count), got \(items.count))"), pos)
            }
            if items.count > targets.count {
                throw s.locate(TemplateError(.value, "too many values to unpack (expected \(targets.count))"), pos)
            }
            for (t, item) in zip(targets, items) { try t.assign(item, &s, pos) }
        case .namespace(let ref, let attr):
            guard case .namespace(let ns) = try ref.eval(&s) else {
                throw s.locate(TemplateError(.runtime, "cannot assign attribute on non-namespace object"), pos)
            }
            if attr.hasPrefix("_") {
                throw s.locate(TemplateError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attr)'. Please rename the attribute."), pos)
            }
            ns.set(attr, v)
        }
    }

    /// The namespace references a statement assigns to (checked before the value is computed).
    func checkNamespaces(_ s: inout RenderState, _ pos: SourcePos) throws(TemplateError) {
        switch self {
        case .slot: return
        case .tuple(let ts): for t in ts { try t.checkNamespaces(&s, pos) }
        case .namespace(let ref, _):
            guard case .namespace = try ref.eval(&s) else {
                throw s.locate(TemplateError(.runtime, "cannot assign attribute on non-namespace object"), pos)
            }
        }
    }

    var hasNamespace: Bool {
        switch self {
        case .slot: false
        case .tuple(let ts): ts.contains { $0.hasNamespace }
        case .namespace: true
        }
    }
}

final class AssignNode: StmtNode {
    let target: AssignTarget
    let value: ExprNode
    let checkNS: Bool

    init(target: AssignTarget, value: ExprNode, _ pos: SourcePos) {
        self.target = target
        self.value = value
        self.checkNS = target.hasNamespace
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        if checkNS { try target.checkNamespaces(&s, pos) }
        let v = try value.eval(&s)
        try target.assign(v, &s, pos)
        return .normal
    }
}

/// `{% set x %}...{% endset %}` (optionally `{% set x | filter %}`).
final class AssignBlockNode: StmtNode {
    let target: AssignTarget
    let inits: [SlotInit]
    let body: [StmtNode]
    /// A filter applied to the captured text, which it reads from `captureSlot`.
    let filter: ExprNode?
    let captureSlot: Int

    init(target: AssignTarget, inits: [SlotInit], body: [StmtNode], filter: ExprNode?, captureSlot: Int, _ pos: SourcePos) {
        self.target = target
        self.inits = inits
        self.body = body
        self.filter = filter
        self.captureSlot = captureSlot
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        runInits(inits, &s)
        var flow = Flow.normal
        let text = try s.capture { (s: inout RenderState) throws(TemplateError) in flow = try execBlock(body, &s) }
        var value = Value.string(text)
        if let filter {
            s.slots[captureSlot] = value
            value = try filter.eval(&s)
        }
        if target.hasNamespace { try target.checkNamespaces(&s, pos) }
        try target.assign(value, &s, pos)
        return flow
    }
}

/// `{% filter f %}...{% endfilter %}`
final class FilterBlockNode: StmtNode {
    let inits: [SlotInit]
    let body: [StmtNode]
    /// The filter, reading the captured text from `captureSlot`.
    let filter: ExprNode
    let captureSlot: Int

    init(inits: [SlotInit], body: [StmtNode], filter: ExprNode, captureSlot: Int, _ pos: SourcePos) {
        self.inits = inits
        self.body = body
        self.filter = filter
        self.captureSlot = captureSlot
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        runInits(inits, &s)
        var flow = Flow.normal
        let text = try s.capture { (s: inout RenderState) throws(TemplateError) in flow = try execBlock(body, &s) }
        s.slots[captureSlot] = .string(text)
        try filter.write(&s)
        try s.checkOutput()
        return flow
    }
}

/// `{% with a = 1 %}...{% endwith %}`
final class WithNode: StmtNode {
    let inits: [SlotInit]
    let targets: [AssignTarget]
    let values: [ExprNode]
    let body: [StmtNode]

    init(inits: [SlotInit], targets: [AssignTarget], values: [ExprNode], body: [StmtNode], _ pos: SourcePos) {
        self.inits = inits
        self.targets = targets
        self.values = values
        self.body = body
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        runInits(inits, &s)
        for (t, v) in zip(targets, values) { try t.assign(try v.eval(&s), &s, pos) }
        return try execBlock(body, &s)
    }
}

// MARK: - Macros and generation blocks

/// The code of a function-like scope: a macro body or a generation block.
final class FunctionCode {
    let slotCount: Int
    let inits: [SlotInit]
    let body: [StmtNode]

    init(slotCount: Int, inits: [SlotInit], body: [StmtNode]) {
        self.slotCount = slotCount
        self.inits = inits
        self.body = body
    }
}

final class MacroCode {
    let name: String
    let params: [String]
    let paramSlots: [Int]
    /// Default value expressions, aligned with `params` (nil: no default).
    let defaults: [ExprNode?]
    let varargsSlot: Int?
    let kwargsSlot: Int?
    let callerSlot: Int?
    let function: FunctionCode

    init(name: String, params: [String], paramSlots: [Int], defaults: [ExprNode?], varargsSlot: Int?,
         kwargsSlot: Int?, callerSlot: Int?, function: FunctionCode) {
        self.name = name
        self.params = params
        self.paramSlots = paramSlots
        self.defaults = defaults
        self.varargsSlot = varargsSlot
        self.kwargsSlot = kwargsSlot
        self.callerSlot = callerSlot
        self.function = function
    }
}

final class MacroDefNode: StmtNode {
    let slot: Int
    let code: MacroCode

    init(slot: Int, code: MacroCode, _ pos: SourcePos) {
        self.slot = slot
        self.code = code
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        s.slots[slot] = .object(MacroObject(code: code, closure: s.frame))
        s.cyclic.append(s.frame)
        return .normal
    }
}

/// `{% generation %}...{% endgeneration %}`: renders its body (a call block with its own scope)
/// and records the byte range it produced, as transformers' AssistantTracker does.
final class GenerationNode: StmtNode {
    let function: FunctionCode

    init(function: FunctionCode, _ pos: SourcePos) {
        self.function = function
        super.init(pos)
    }

    override func exec(_ s: inout RenderState) throws(TemplateError) -> Flow {
        do { try s.enterCall() } catch { throw s.locate(error, pos) }
        defer { s.callDepth -= 1 }
        let start = s.out.count
        // AssistantTracker measures from the top-level output produced so far.
        let top = s.captureStarts.first ?? start
        let saved = s.frame
        s.frame = Frame(count: function.slotCount, parent: saved)
        defer { s.frame = saved }
        runInits(function.inits, &s)
        s.captureStarts.append(start)
        defer { s.captureStarts.removeLast() }
        _ = try execBlock(function.body, &s)
        s.spans.append(top..<(top + s.out.count - start))
        try s.checkOutput()
        return .normal
    }
}
