// Compiled expression nodes. Each node evaluates to a Value; nodes that commonly feed the output
// (constants, string concatenation, tojson) also know how to write themselves straight into the
// output buffer without building an intermediate String.

/// A compiled expression.
class ExprNode {
    let pos: SourcePos
    init(_ pos: SourcePos) { self.pos = pos }

    func eval(_ s: inout RenderState) throws(TemplateError) -> Value { .undefined(nil) }

    /// `bool(value)`.
    func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool { Py.truthy(try eval(&s)) }

    /// Appends `str(value)` to the output.
    func write(_ s: inout RenderState) throws(TemplateError) {
        let v = try eval(&s)
        do { try PyText.appendStr(v, to: s.out) } catch { throw s.locate(error, pos) }
    }

    /// How the expression reads in error messages.
    var desc: String { "value" }
}

/// Evaluates a node taken from an array without retaining it (the program owns all nodes).
@inline(__always)
func evalUnretained(_ node: ExprNode, _ s: inout RenderState) throws(TemplateError) -> Value {
    try evalUnretained(Unmanaged.passUnretained(node), &s)
}

@inline(__always)
func evalUnretained(_ node: Unmanaged<ExprNode>, _ s: inout RenderState) throws(TemplateError) -> Value {
    var failure: TemplateError? = nil
    let v: Value = node._withUnsafeGuaranteedRef { n in
        do throws(TemplateError) { return try n.eval(&s) } catch {
            failure = error
            return .undefined(nil)
        }
    }
    if let failure { throw failure }
    return v
}

@inline(__always)
func writeUnretained(_ node: Unmanaged<ExprNode>, _ s: inout RenderState) throws(TemplateError) {
    var failure: TemplateError? = nil
    node._withUnsafeGuaranteedRef { n in
        do throws(TemplateError) { try n.write(&s) } catch { failure = error }
    }
    if let failure { throw failure }
}

/// Rewrites a bare "value is undefined" error to name the expression that was undefined.
@inline(__always)
func describeUndefined(_ e: TemplateError, _ v: Value, _ node: ExprNode) -> TemplateError {
    if e.kind == .undefined, case .undefined(nil) = v {
        var e = e
        e.message = "'\(node.desc)' is undefined"
        return e
    }
    return e
}

// MARK: - Leaves

final class ConstNode: ExprNode {
    let value: Value
    let text: [UInt8]

    init(_ value: Value, _ pos: SourcePos) {
        self.value = value
        var t: [UInt8] = []
        try? PyText.appendStr(value, to: &t)
        self.text = t
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { value }
    override func write(_ s: inout RenderState) throws(TemplateError) { s.out.append(text) }
    override var desc: String { (try? PyText.repr(value)) ?? "constant" }
}

final class LocalNode: ExprNode {
    let slot: Int
    let name: String

    init(slot: Int, name: String, _ pos: SourcePos) {
        self.slot = slot
        self.name = name
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { s.slots[slot] }

    override func write(_ s: inout RenderState) throws(TemplateError) {
        switch s.slots[slot] {
        case .string(let str): s.out.append(str)
        case let v: do { try PyText.appendStr(v, to: s.out) } catch { throw s.locate(error, pos) }
        }
    }

    override var desc: String { name }
}

final class OuterNode: ExprNode {
    let hops: Int
    let slot: Int
    let name: String

    init(hops: Int, slot: Int, name: String, _ pos: SourcePos) {
        self.hops = hops
        self.slot = slot
        self.name = name
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { s.frame.ancestor(hops).slots[slot] }
    override var desc: String { name }
}

final class FailExprNode: ExprNode {
    let error: TemplateError
    init(_ error: TemplateError, _ pos: SourcePos) {
        self.error = error
        super.init(pos)
    }
    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { throw s.locate(error, pos) }
}

// MARK: - Literals

final class ListNode: ExprNode {
    let items: [ExprNode]
    let isTuple: Bool

    init(_ items: [ExprNode], isTuple: Bool, _ pos: SourcePos) {
        self.items = items
        self.isTuple = isTuple
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        var out: [Value] = []
        out.reserveCapacity(items.count)
        for i in items { out.append(try i.eval(&s)) }
        return isTuple ? .tuple(out) : .list(out)
    }
}

final class DictNode: ExprNode {
    let keys: [ExprNode]
    let values: [ExprNode]

    init(keys: [ExprNode], values: [ExprNode], _ pos: SourcePos) {
        self.keys = keys
        self.values = values
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        var pairs: [(Value, Value)] = []
        pairs.reserveCapacity(keys.count)
        for i in 0..<keys.count {
            let k = try keys[i].eval(&s)
            let v = try values[i].eval(&s)
            pairs.append((k, v))
        }
        do { return .dict(try Dict(pairs: pairs)) } catch { throw s.locate(error, pos) }
    }
}

// MARK: - Access

final class GetAttrNode: ExprNode {
    let object: ExprNode
    let name: String
    /// Whether `dict.name` finds a dict method before the key (`d.items`, `d.get`, ...).
    let isDictAttribute: Bool
    let print: UInt64

    init(_ object: ExprNode, _ name: String, _ pos: SourcePos) {
        self.object = object
        self.name = name
        self.isDictAttribute = Access.isDictAttribute(name)
        self.print = KeyPrint.of(name)
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let o = try object.eval(&s)
        if !isDictAttribute, case .dict(let d) = o { return d[string: name, print: print] ?? .undefined(nil) }
        do { return try Access.getattr(o, name, &s) } catch { throw s.locate(describeUndefined(error, o, object), pos) }
    }

    override var desc: String { object.desc + "." + name }
}

final class GetItemNode: ExprNode {
    let object: ExprNode
    let key: ExprNode

    init(_ object: ExprNode, _ key: ExprNode, _ pos: SourcePos) {
        self.object = object
        self.key = key
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let o = try object.eval(&s)
        let k = try key.eval(&s)
        do { return try Access.getitem(o, k, &s) } catch { throw s.locate(describeUndefined(error, o, object), pos) }
    }

    override var desc: String { object.desc + "[" + key.desc + "]" }
}

/// `x['const']`: the common dict lookup without building a key Value.
final class GetConstStringItemNode: ExprNode {
    let object: ExprNode
    let key: String
    let print: UInt64

    init(_ object: ExprNode, _ key: String, _ pos: SourcePos) {
        self.object = object
        self.key = key
        self.print = KeyPrint.of(key)
        self.isDictAttribute = Access.isDictAttribute(key)
        super.init(pos)
    }

    let isDictAttribute: Bool

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let o = try object.eval(&s)
        if case .dict(let d) = o {
            if let v = d[string: key, print: print] { return v }
            if !isDictAttribute { return .undefined(nil) }
        }
        do { return try Access.getitem(o, .string(key), &s) } catch { throw s.locate(describeUndefined(error, o, object), pos) }
    }

    override var desc: String { object.desc + "['" + key + "']" }
}

final class SliceNode: ExprNode {
    let object: ExprNode
    let start: ExprNode?
    let stop: ExprNode?
    let step: ExprNode?

    init(_ object: ExprNode, _ start: ExprNode?, _ stop: ExprNode?, _ step: ExprNode?, _ pos: SourcePos) {
        self.object = object
        self.start = start
        self.stop = stop
        self.step = step
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let o = try object.eval(&s)
        let a = try start?.eval(&s) ?? .none
        let b = try stop?.eval(&s) ?? .none
        let c = try step?.eval(&s) ?? .none
        do { return try Access.slice(o, a, b, c) } catch { throw s.locate(describeUndefined(error, o, object), pos) }
    }
}

// MARK: - Calls

/// Compiled call arguments.
final class ArgsNode: @unchecked Sendable {
    let positional: [ExprNode]
    let keywords: [(String, ExprNode)]
    let dynArgs: ExprNode?
    let dynKwargs: ExprNode?

    init(positional: [ExprNode], keywords: [(String, ExprNode)], dynArgs: ExprNode?, dynKwargs: ExprNode?) {
        self.positional = positional
        self.keywords = keywords
        self.dynArgs = dynArgs
        self.dynKwargs = dynKwargs
    }

    static let empty = ArgsNode(positional: [], keywords: [], dynArgs: nil, dynKwargs: nil)
    var isEmpty: Bool { positional.isEmpty && keywords.isEmpty && dynArgs == nil && dynKwargs == nil }

    func eval(_ s: inout RenderState, _ pos: SourcePos) throws(TemplateError) -> Arguments {
        if isEmpty { return .none }
        var args = Arguments()
        if !positional.isEmpty {
            args.positional.reserveCapacity(positional.count)
            for p in positional { args.positional.append(try p.eval(&s)) }
        }
        for (k, v) in keywords { args.keywords.append((k, try v.eval(&s))) }
        if let dynArgs {
            let v = try dynArgs.eval(&s)
            do { args.positional.append(contentsOf: try Py.iterate(v)) } catch {
                throw s.locate(TemplateError(.type, "argument after * must be an iterable, not \(Py.typeName(v))"), pos)
            }
        }
        if let dynKwargs {
            let v = try dynKwargs.eval(&s)
            guard case .dict(let d) = v else {
                throw s.locate(TemplateError(.type, "argument after ** must be a mapping, not \(Py.typeName(v))"), pos)
            }
            for (k, value) in d.pairs {
                guard let key = k.stringValue else { throw s.locate(TemplateError(.type, "keywords must be strings"), pos) }
                if args.keywords.contains(where: { pyEqual($0.0, key) }) {
                    throw s.locate(TemplateError(.type, "got multiple values for keyword argument '\(key)'"), pos)
                }
                args.keywords.append((key, value))
            }
        }
        return args
    }
}

final class CallNode: ExprNode {
    let callee: ExprNode
    let args: ArgsNode

    init(_ callee: ExprNode, _ args: ArgsNode, _ pos: SourcePos) {
        self.callee = callee
        self.args = args
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let f = try callee.eval(&s)
        if case .undefined(let info) = f { throw s.locate(describeUndefined(Py.undefinedError(info), f, callee), pos) }
        let a = try args.eval(&s, pos)
        do { return try Access.call(f, a, &s) } catch { throw s.locate(error, pos) }
    }
}

/// `obj.name(args)`: calls a known method of str/dict/list directly, else getattr + call.
final class MethodCallNode: ExprNode {
    let object: ExprNode
    let name: String
    let args: ArgsNode
    let isDictAttribute: Bool

    init(_ object: ExprNode, _ name: String, _ args: ArgsNode, _ pos: SourcePos) {
        self.object = object
        self.name = name
        self.args = args
        self.isDictAttribute = Access.isDictAttribute(name)
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let o = try object.eval(&s)
        if Methods.has(o, name) {
            let a = try args.eval(&s, pos)
            do { return try Methods.call(o, name, a, &s) } catch { throw s.locate(error, pos) }
        }
        let f: Value
        if !isDictAttribute, case .dict(let d) = o, let v = d[string: name] {
            f = v
        } else {
            do { f = try Access.getattr(o, name, &s) } catch { throw s.locate(describeUndefined(error, o, object), pos) }
        }
        if case .undefined(let info) = f {
            throw s.locate(info == nil ? TemplateError(.undefined, "'\(object.desc).\(name)' is undefined") : Py.undefinedError(info), pos)
        }
        let a = try args.eval(&s, pos)
        do { return try Access.call(f, a, &s) } catch { throw s.locate(error, pos) }
    }
}

// MARK: - Filters and tests

typealias FilterFunction = @Sendable (inout RenderState, Value, Arguments) throws(TemplateError) -> Value
typealias TestFunction = @Sendable (inout RenderState, Value, Arguments) throws(TemplateError) -> Bool

final class FilterNode: ExprNode {
    let name: String
    let function: FilterFunction
    let input: ExprNode
    let args: ArgsNode

    init(name: String, function: @escaping FilterFunction, input: ExprNode, args: ArgsNode, _ pos: SourcePos) {
        self.name = name
        self.function = function
        self.input = input
        self.args = args
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let v = try input.eval(&s)
        let a = try args.eval(&s, pos)
        do { return try function(&s, v, a) } catch { throw s.locate(describeUndefined(error, v, input), pos) }
    }

    override var desc: String { input.desc + "|" + name }
}

/// `x | tojson(...)` with constant arguments: options parsed once; writes JSON straight to the output.
final class ToJSONNode: ExprNode {
    let input: ExprNode
    let options: JSONDumpOptions
    let format: JSONFormat

    init(input: ExprNode, options: JSONDumpOptions, _ pos: SourcePos) {
        self.input = input
        self.options = options
        self.format = JSONFormat(options)
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let v = try input.eval(&s)
        do { return .string(try dumps(v, &s)) } catch { throw s.locate(error, pos) }
    }

    /// Serializes `v`, reusing an earlier render's text for the same dict when a cache is given
    /// (a dict is immutable in the sandbox, so it always serializes the same way).
    private func dumps(_ v: Value, _ s: inout RenderState) throws(TemplateError) -> String {
        guard let cache = s.cache, case .dict(let d) = v else { return try JSONDumps.dumps(v, options) }
        if let text = cache.text(node: self, dict: d) { return text }
        let text = try JSONDumps.dumps(v, options)
        cache.store(node: self, dict: d, text: text)
        return text
    }

    /// The dict the input names when it is a variable or a variable's key/attribute, unretained
    /// (the variable keeps it alive); nil otherwise.
    @inline(__always)
    private func borrowedDict(_ s: inout RenderState) -> Unmanaged<Dict>? {
        guard Borrow.isSupported else { return nil }
        if let local = input as? LocalNode { return Borrow.dict(s.slots + local.slot) }
        if let attr = input as? LocalAttrNode {
            return attr.locate(&s, found: { d, i in d.withValue(at: i) { Borrow.dict($0) } }, missing: { nil }, other: { nil })
        }
        return nil
    }

    override func write(_ s: inout RenderState) throws(TemplateError) {
        let writer = JSONWriter(format, s.out)
        if let cache = s.cache {
            do throws(TemplateError) {
                // A variable (or its attribute) holding a dict seen before: its text is appended
                // straight from the memo, the dict looked at where it lies (no copy, no retain).
                let borrowed = borrowedDict(&s)
                if let borrowed, borrowed._withUnsafeGuaranteedRef({ cache.append(node: self, dict: $0, to: s.out) }) {
                    return
                }
                let v = try input.eval(&s)
                if case .dict(let d) = v {
                    // (A borrowed dict has just been looked up.)
                    if borrowed == nil, cache.append(node: self, dict: d, to: s.out) { return }
                    // Serialized where it will stay, then remembered from there.
                    let mark = s.out.count
                    try writer.encode(v, level: 0)
                    cache.store(node: self, dict: d, text: s.out.string(from: mark))
                } else {
                    try writer.encode(v, level: 0)
                }
            } catch { throw s.locate(error, pos) }
            return
        }
        do throws(TemplateError) {
            // Variables and their attributes are serialized where they lie, without copies.
            if Borrow.isSupported, let local = input as? LocalNode {
                try writer.encode(UnsafePointer(s.slots + local.slot), level: 0)
                return
            }
            if let attr = input as? LocalAttrNode {
                var failure: TemplateError? = nil
                let done = attr.locate(&s, found: { d, i in
                    d.withValue(at: i) { vp -> Bool in
                        do throws(TemplateError) { try writer.encode(vp, level: 0) } catch { failure = error }
                        return true
                    }
                }, missing: { false }, other: { false })
                if let failure { throw failure }
                if done { return }
            }
            let v = try input.eval(&s)
            try writer.encode(v, level: 0)
        } catch {
            throw s.locate(error, pos)
        }
    }
}

/// `x | trim` (no arguments): returns the input unchanged when there is nothing to strip.
final class TrimNode: ExprNode {
    let input: ExprNode

    init(input: ExprNode, _ pos: SourcePos) {
        self.input = input
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let v = try input.eval(&s)
        switch v {
        case .string(let str): return .string(PyStr.strip(str, nil))
        case .markup(let str): return .markup(PyStr.strip(str, nil))
        default:
            do { return .string(PyStr.strip(try PyText.str(v), nil)) } catch { throw s.locate(error, pos) }
        }
    }
}

final class TestNode: ExprNode {
    let name: String
    let function: TestFunction
    let input: ExprNode
    let args: ArgsNode

    init(name: String, function: @escaping TestFunction, input: ExprNode, args: ArgsNode, _ pos: SourcePos) {
        self.name = name
        self.function = function
        self.input = input
        self.args = args
        super.init(pos)
    }

    override func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool {
        let v = try input.eval(&s)
        let a = try args.eval(&s, pos)
        do { return try function(&s, v, a) } catch { throw s.locate(describeUndefined(error, v, input), pos) }
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { .bool(try truthy(&s)) }
}

// MARK: - Operators

final class NotNode: ExprNode {
    let operand: ExprNode
    init(_ operand: ExprNode, _ pos: SourcePos) {
        self.operand = operand
        super.init(pos)
    }
    override func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool { !(try operand.truthy(&s)) }
    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { .bool(!(try operand.truthy(&s))) }
}

final class UnaryNode: ExprNode {
    let operand: ExprNode
    let negate: Bool

    init(_ operand: ExprNode, negate: Bool, _ pos: SourcePos) {
        self.operand = operand
        self.negate = negate
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let v = try operand.eval(&s)
        do { return negate ? try Py.negate(v) : try Py.positive(v) } catch { throw s.locate(describeUndefined(error, v, operand), pos) }
    }
}

final class BinaryNode: ExprNode {
    let op: Py.BinaryOp
    let left: ExprNode
    let right: ExprNode

    init(_ op: Py.BinaryOp, _ left: ExprNode, _ right: ExprNode, _ pos: SourcePos) {
        self.op = op
        self.left = left
        self.right = right
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let a = try left.eval(&s)
        let b = try right.eval(&s)
        do { return try Py.binary(op, a, b, limit: s.budget.maxOutputBytes) } catch {
            throw s.locate(describeUndefined(describeUndefined(error, a, left), b, right), pos)
        }
    }
}

/// `a + b + c + ...` (a left-leaning chain of additions). When the operands are plain strings
/// they are appended directly; anything else falls back to Python's pairwise `+`, with the same
/// evaluation order and errors.
final class AddChainNode: ExprNode {
    let operands: [ExprNode]
    /// UTF-8 of the operands that are string constants (written without evaluating them).
    let constText: [[UInt8]?]

    init(_ operands: [ExprNode], _ pos: SourcePos) {
        self.operands = operands
        self.constText = operands.map { node in
            if let c = node as? ConstNode, case .string(let s) = c.value { return Array(s.utf8) }
            return nil
        }
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let acc = try operands[0].eval(&s)
        if case .string(var str) = acc {
            var i = 1
            while i < operands.count {
                let v = try operands[i].eval(&s)
                if case .string(let t) = v {
                    str += t
                    i += 1
                    continue
                }
                return try slowPath(.string(str), v, i, &s)
            }
            if str.utf8.count > s.budget.maxOutputBytes {
                throw s.locate(TemplateError(.outputLimit, "string exceeds the budget's output limit"), pos)
            }
            return .string(str)
        }
        let v = try operands[1].eval(&s)
        return try slowPath(acc, v, 1, &s)
    }

    /// Continues Python's left-to-right `+` from operand `i` (whose value is `v`).
    private func slowPath(_ accIn: Value, _ vIn: Value, _ iIn: Int, _ s: inout RenderState) throws(TemplateError) -> Value {
        var acc = accIn
        var v = vIn
        var i = iIn
        while true {
            do { acc = try Py.add(acc, v, limit: s.budget.maxOutputBytes) } catch {
                throw s.locate(describeUndefined(describeUndefined(error, acc, operands[i - 1]), v, operands[i]), pos)
            }
            i += 1
            if i >= operands.count { return acc }
            v = try operands[i].eval(&s)
        }
    }

    override func write(_ s: inout RenderState) throws(TemplateError) {
        let mark = s.out.count
        if let text = constText[0] {
            s.out.append(text)
        } else {
            let first = try operands[0].eval(&s)
            guard case .string(let f) = first else {
                let v = try operands[1].eval(&s)
                let r = try slowPath(first, v, 1, &s)
                do { try PyText.appendStr(r, to: s.out) } catch { throw s.locate(error, pos) }
                return
            }
            s.out.append(f)
        }
        var i = 1
        while i < operands.count {
            // While everything so far is a plain string, constant strings can be written as is.
            if let text = constText[i] {
                s.out.append(text)
                i += 1
                continue
            }
            let v = try evalUnretained(operands[i], &s)
            if case .string(let t) = v {
                s.out.append(t)
                i += 1
                continue
            }
            // Not all strings: rebuild the accumulated prefix and continue the Python way.
            let prefix = s.out.string(from: mark)
            s.out.truncate(mark)
            let r = try slowPath(.string(prefix), v, i, &s)
            do { try PyText.appendStr(r, to: s.out) } catch { throw s.locate(error, pos) }
            return
        }
    }
}

/// `a ~ b ~ c`: `"".join(str(x) for x in (a, b, c))`.
final class ConcatNode: ExprNode {
    let items: [ExprNode]

    init(_ items: [ExprNode], _ pos: SourcePos) {
        self.items = items
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        var values: [Value] = []
        values.reserveCapacity(items.count)
        for i in items { values.append(try i.eval(&s)) }
        var out: [UInt8] = []
        do { for v in values { try PyText.appendStr(v, to: &out) } } catch { throw s.locate(error, pos) }
        if out.count > s.budget.maxOutputBytes {
            throw s.locate(TemplateError(.outputLimit, "string exceeds the budget's output limit"), pos)
        }
        return .string(String(decoding: out, as: UTF8.self))
    }

    /// `{{ a ~ b }}`: every operand is evaluated first (as jinja2 does), then each is written
    /// straight to the output instead of building the joined string.
    override func write(_ s: inout RenderState) throws(TemplateError) {
        var values: [Value] = []
        values.reserveCapacity(items.count)
        for i in items { values.append(try i.eval(&s)) }
        do { for v in values { try PyText.appendStr(v, to: s.out) } } catch { throw s.locate(error, pos) }
        try s.checkOutput()
    }
}

final class AndNode: ExprNode {
    let left: ExprNode
    let right: ExprNode

    init(_ left: ExprNode, _ right: ExprNode, _ pos: SourcePos) {
        self.left = left
        self.right = right
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let a = try left.eval(&s)
        return Py.truthy(a) ? try right.eval(&s) : a
    }

    override func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool {
        if !(try left.truthy(&s)) { return false }
        return try right.truthy(&s)
    }
}

final class OrNode: ExprNode {
    let left: ExprNode
    let right: ExprNode

    init(_ left: ExprNode, _ right: ExprNode, _ pos: SourcePos) {
        self.left = left
        self.right = right
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        let a = try left.eval(&s)
        return Py.truthy(a) ? a : try right.eval(&s)
    }

    override func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool {
        if try left.truthy(&s) { return true }
        return try right.truthy(&s)
    }
}

/// A (possibly chained) comparison: `a < b < c` is `a < b and b < c` with `b` evaluated once.
final class CompareNode: ExprNode {
    let first: ExprNode
    let ops: [(CompareOperator, ExprNode)]

    init(_ first: ExprNode, _ ops: [(CompareOperator, ExprNode)], _ pos: SourcePos) {
        self.first = first
        self.ops = ops
        super.init(pos)
    }

    override func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool {
        var a = try first.eval(&s)
        var aNode = first
        for (op, node) in ops {
            let b = try node.eval(&s)
            let r: Bool
            do {
                switch op {
                case .eq: r = Py.eq(a, b)
                case .ne: r = !Py.eq(a, b)
                case .lt: r = try Py.compare(a, .lt, b)
                case .le: r = try Py.compare(a, .le, b)
                case .gt: r = try Py.compare(a, .gt, b)
                case .ge: r = try Py.compare(a, .ge, b)
                case .in: r = try Py.contains(b, a)
                case .notIn: r = !(try Py.contains(b, a))
                }
            } catch {
                throw s.locate(describeUndefined(describeUndefined(error, a, aNode), b, node), pos)
            }
            if !r { return false }
            a = b
            aNode = node
        }
        return true
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { .bool(try truthy(&s)) }
}

final class CondNode: ExprNode {
    let test: ExprNode
    let then: ExprNode
    let otherwise: ExprNode?

    init(test: ExprNode, then: ExprNode, otherwise: ExprNode?, _ pos: SourcePos) {
        self.test = test
        self.then = then
        self.otherwise = otherwise
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        if try test.truthy(&s) { return try then.eval(&s) }
        guard let otherwise else {
            return .undefined(UndefinedInfo(message: "the inline if-expression evaluated to false and no else section was defined."))
        }
        return try otherwise.eval(&s)
    }
}

// MARK: - Fused nodes for common template patterns

/// `name.attr` / `name['key']` where `name` is a variable of the current function: looks the key
/// up in place, without copying the container.
final class LocalAttrNode: ExprNode {
    let slot: Int
    let varName: String
    let key: String
    /// `.attr` syntax: dict methods (`items`, `get`, ...) win over keys of the same name.
    let isAttribute: Bool
    let isDictAttribute: Bool
    let print: UInt64

    init(slot: Int, varName: String, key: String, isAttribute: Bool, _ pos: SourcePos) {
        self.slot = slot
        self.varName = varName
        self.key = key
        self.isAttribute = isAttribute
        self.isDictAttribute = Access.isDictAttribute(key)
        self.print = KeyPrint.of(key)
        super.init(pos)
    }

    /// Whether a missing key means Undefined (rather than a dict method of that name).
    var missingIsUndefined: Bool { !isDictAttribute }

    /// Finds the key in the dict held by the variable, in place: `.found(i)` with the dict, `.missing`,
    /// or `.other` when the variable is not a dict (or the fast path does not apply).
    @inline(__always)
    func locate<R>(_ s: inout RenderState, found: (Dict, Int) -> R, missing: () -> R, other: () -> R) -> R {
        if isAttribute && isDictAttribute { return other() }
        guard Borrow.isSupported, let du = Borrow.dict(s.slots + slot) else { return other() }
        return du._withUnsafeGuaranteedRef { d in
            if let i = d.index(ofString: key, print: print) { return found(d, i) }
            return missingIsUndefined ? missing() : other()
        }
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value {
        var slowPath = false
        let v: Value = locate(&s, found: { d, i in d.values[i] }, missing: { .undefined(nil) }, other: {
            slowPath = true
            return .undefined(nil)
        })
        if !slowPath { return v }
        if case .dict(let d) = s.slots[slot] {
            if isAttribute {
                if !isDictAttribute { return d[string: key, print: print] ?? .undefined(nil) }
            } else {
                if let v = d[string: key, print: print] { return v }
                if !isDictAttribute { return .undefined(nil) }
            }
        }
        return try slow(&s)
    }

    /// `bool(self == c)` for a string constant, without copying; nil when the fast path does not apply.
    @inline(__always)
    func equalsInPlace(_ s: inout RenderState, _ c: String) -> Bool? {
        locate(&s, found: { d, i in
            d.withValue(at: i) { vp -> Bool? in
                if let sp = Borrow.string(vp) { return pyEqual(sp.pointee, c) }
                return nil
            }
        }, missing: { false }, other: { nil })
    }

    /// The type test on the attribute's value, in place; nil when the fast path does not apply.
    @inline(__always)
    func testInPlace(_ s: inout RenderState, _ kind: TypeTestNode.Kind) -> Bool? {
        locate(&s, found: { d, i in
            d.withValue(at: i) { vp -> Bool in TypeTestNode.check(vp.pointee, kind) }
        }, missing: { kind == .undefined }, other: { nil })
    }

    private func slow(_ s: inout RenderState) throws(TemplateError) -> Value {
        let o = s.slots[slot]
        do {
            return isAttribute ? try Access.getattr(o, key, &s) : try Access.getitem(o, .string(key), &s)
        } catch {
            var e = error
            if e.kind == .undefined, case .undefined(nil) = o { e.message = "'\(varName)' is undefined" }
            throw s.locate(e, pos)
        }
    }

    override func write(_ s: inout RenderState) throws(TemplateError) {
        let out = s.out
        let done: Bool = locate(&s, found: { d, i in
            d.withValue(at: i) { vp -> Bool in
                guard let sp = Borrow.string(vp) else { return false }
                out.append(borrowed: sp)
                return true
            }
        }, missing: { true }, other: { false })
        if done { return }
        if !isDictAttribute || !isAttribute, case .dict(let d) = s.slots[slot], let v = d[string: key, print: print] {
            if case .string(let str) = v {
                s.out.append(str)
                return
            }
            do { try PyText.appendStr(v, to: s.out) } catch { throw s.locate(error, pos) }
            return
        }
        let v = try slow(&s)
        do { try PyText.appendStr(v, to: s.out) } catch { throw s.locate(error, pos) }
    }

    override var desc: String { isAttribute ? varName + "." + key : varName + "['" + key + "']" }
}

/// `expr == 'const'` / `expr != 'const'` (and other scalar constants).
final class CompareConstNode: ExprNode {
    let left: ExprNode
    let constant: Value
    let negate: Bool

    init(_ left: ExprNode, _ constant: Value, negate: Bool, _ pos: SourcePos) {
        self.left = left
        self.constant = constant
        self.negate = negate
        super.init(pos)
    }

    override func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool {
        if let attr = left as? LocalAttrNode, case .string(let c) = constant, let r = attr.equalsInPlace(&s, c) {
            return r != negate
        }
        let a = try left.eval(&s)
        if case .string(let x) = a, case .string(let y) = constant { return pyEqual(x, y) != negate }
        return Py.eq(a, constant) != negate
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { .bool(try truthy(&s)) }
}

/// `'const' in expr` / `'const' not in expr`.
final class ContainsConstNode: ExprNode {
    let needle: Value
    let container: ExprNode
    let negate: Bool
    let print: UInt64

    init(_ needle: Value, _ container: ExprNode, negate: Bool, _ pos: SourcePos) {
        self.needle = needle
        self.container = container
        self.negate = negate
        if case .string(let k) = needle { print = KeyPrint.of(k) } else { print = 0 }
        super.init(pos)
    }

    override func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool {
        let c = try container.eval(&s)
        if case .dict(let d) = c, case .string(let k) = needle { return (d[string: k, print: print] != nil) != negate }
        do { return try Py.contains(c, needle) != negate } catch { throw s.locate(describeUndefined(error, c, container), pos) }
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { .bool(try truthy(&s)) }
}

/// `expr is defined` / `is undefined` / `is none` / `is string` / `is mapping` (and `is not ...`):
/// argument-free type tests without the generic call.
final class TypeTestNode: ExprNode {
    enum Kind { case defined, undefined, none, string, mapping }
    let input: ExprNode
    let kind: Kind

    init(_ input: ExprNode, _ kind: Kind, _ pos: SourcePos) {
        self.input = input
        self.kind = kind
        super.init(pos)
    }

    override func truthy(_ s: inout RenderState) throws(TemplateError) -> Bool {
        if let attr = input as? LocalAttrNode, let r = attr.testInPlace(&s, kind) { return r }
        return TypeTestNode.check(try input.eval(&s), kind)
    }

    @inline(__always)
    static func check(_ v: borrowing Value, _ kind: Kind) -> Bool {
        switch v {
        case .undefined: return kind == .undefined
        case .none: return kind == .defined || kind == .none
        case .string, .markup: return kind == .defined || kind == .string
        case .dict: return kind == .defined || kind == .mapping
        default: return kind == .defined
        }
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { .bool(try truthy(&s)) }
}
