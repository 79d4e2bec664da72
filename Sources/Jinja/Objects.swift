// Runtime objects: macros, bound methods, the `loop` variable, `range`, `cycler`, `joiner`, and
// builtin functions.

// MARK: - Macros

final class MacroObject: PyObject, @unchecked Sendable {
    let code: MacroCode
    /// The frame the macro was defined in (its closure).
    let closure: Frame

    init(code: MacroCode, closure: Frame) {
        self.code = code
        self.closure = closure
    }

    override var typeName: String { "Macro" }
    override func repr() -> String { "<Macro '\(code.name)'>" }
    override var isCallable: Bool { true }

    override func attribute(_ name: String, _ s: inout RenderState) throws(TemplateError) -> Value? {
        switch name {
        case "name": return .string(code.name)
        case "arguments": return .tuple(code.params.map { .string($0) })
        case "catch_kwargs": return .bool(code.kwargsSlot != nil)
        case "catch_varargs": return .bool(code.varargsSlot != nil)
        case "caller": return .bool(code.callerSlot != nil)
        default: return nil
        }
    }

    override func call(_ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        try s.enterCall()
        defer { s.callDepth -= 1 }
        let code = self.code
        let fn = code.function
        let frame = Frame(count: fn.slotCount, parent: closure)
        let n = code.params.count
        var provided = [Bool](repeating: false, count: n)
        let npos = min(args.positional.count, n)
        for i in 0..<npos {
            frame.slots[code.paramSlots[i]] = args.positional[i]
            provided[i] = true
        }
        var kwargs = args.keywords
        var foundCaller = false
        if npos < n {
            for i in npos..<n {
                if let k = kwargs.firstIndex(where: { pyEqual($0.0, code.params[i]) }) {
                    frame.slots[code.paramSlots[i]] = kwargs[k].1
                    provided[i] = true
                    kwargs.remove(at: k)
                }
                if code.params[i] == "caller" { foundCaller = true }
            }
        }
        if let callerSlot = code.callerSlot, !foundCaller {
            if let k = kwargs.firstIndex(where: { $0.0 == "caller" }) {
                frame.slots[callerSlot] = kwargs[k].1
                kwargs.remove(at: k)
            } else {
                frame.slots[callerSlot] = .undefined(UndefinedInfo(message: "No caller defined"))
            }
        }
        if let kwargsSlot = code.kwargsSlot {
            frame.slots[kwargsSlot] = .dict(Dict(stringPairs: kwargs))
        } else if let first = kwargs.first {
            if first.0 == "caller" {
                throw TemplateError(.type, "macro '\(code.name)' was invoked with two values for the special caller argument. This is most likely a bug.")
            }
            throw TemplateError(.type, "macro '\(code.name)' takes no keyword argument '\(first.0)'")
        }
        if let varargsSlot = code.varargsSlot {
            frame.slots[varargsSlot] = .tuple(args.positional.count > n ? Array(args.positional[n...]) : [])
        } else if args.positional.count > n {
            throw TemplateError(.type, "macro '\(code.name)' takes not more than \(n) argument(s)")
        }
        let saved = s.frame
        s.frame = frame
        defer { s.frame = saved }
        runInits(fn.inits, &s)
        for i in 0..<n where !provided[i] {
            if let d = code.defaults[i] {
                frame.slots[code.paramSlots[i]] = try d.eval(&s)
            } else {
                frame.slots[code.paramSlots[i]] = .undefined(UndefinedInfo(message: "parameter '\(code.params[i])' was not provided"))
            }
        }
        let text = try s.capture { (s: inout RenderState) throws(TemplateError) in _ = try execBlock(fn.body, &s) }
        return .string(text)
    }
}

// MARK: - Bound methods

/// `"abc".upper` and friends, when accessed without being called right away.
final class BoundMethod: PyObject, @unchecked Sendable {
    let receiver: Value
    let name: String

    init(receiver: Value, name: String) {
        self.receiver = receiver
        self.name = name
    }

    override var typeName: String { "builtin_function_or_method" }
    override func repr() -> String { "<built-in method \(name) of \(Py.typeName(receiver)) object>" }
    override var isCallable: Bool { true }
    override func call(_ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        try Methods.call(receiver, name, args, &s)
    }
}

/// A method implemented in Swift on one of our objects (`loop.cycle`, `cycler.next`).
final class NativeMethod: PyObject, @unchecked Sendable {
    let name: String
    let body: (Arguments, inout RenderState) throws(TemplateError) -> Value

    init(name: String, _ body: @escaping (Arguments, inout RenderState) throws(TemplateError) -> Value) {
        self.name = name
        self.body = body
    }

    override var typeName: String { "method" }
    override func repr() -> String { "<bound method \(name)>" }
    override var isCallable: Bool { true }
    override func call(_ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value { try body(args, &s) }
}

/// A builtin global function (`range`, `namespace`, `raise_exception`, ...).
final class BuiltinFunction: PyObject, @unchecked Sendable {
    let name: String
    let body: @Sendable (Arguments, inout RenderState) throws(TemplateError) -> Value
    /// Attributes of the callable (transformers' `dict` global has `dict.fromkeys`).
    let attributes: [String: Value]

    init(_ name: String, attributes: [String: Value] = [:],
         _ body: @escaping @Sendable (Arguments, inout RenderState) throws(TemplateError) -> Value) {
        self.name = name
        self.body = body
        self.attributes = attributes
    }

    override var typeName: String { "builtin_function_or_method" }
    override func repr() -> String { "<built-in function \(name)>" }
    override var isCallable: Bool { true }
    override func call(_ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value { try body(args, &s) }
    override func attribute(_ name: String, _ s: inout RenderState) throws(TemplateError) -> Value? { attributes[name] }
}

// MARK: - The loop variable

/// jinja2's LoopContext. Items of a filtered loop (`for x in xs if test`) are tested lazily, as
/// the body runs, so tests may depend on state the body changes.
final class LoopObject: PyObject, @unchecked Sendable {
    let items: [Value]
    let node: ForNode
    /// The frame the loop runs in, for filtered loops (the filter test assigns its target there).
    /// Weak: the frame usually holds this object in its `loop` slot.
    weak var frame: Frame?
    var cursor = 0
    var index0 = -1
    var hasPeek = false
    var peeked: Value? = nil
    var pending: [Value] = []
    var pendingPos = 0
    var current: Value = .undefined(nil)
    var before: Value = .undefined(nil)
    var knownLength: Int? = nil
    var lastChanged: [Value]? = nil

    init(items: [Value], node: ForNode, frame: Frame) {
        self.items = items
        self.node = node
        if node.test == nil {
            knownLength = items.count
        } else {
            self.frame = frame
        }
    }

    override var typeName: String { "LoopContext" }

    private func fetch(_ s: inout RenderState) throws(TemplateError) -> Value? {
        if pendingPos < pending.count {
            pendingPos += 1
            return pending[pendingPos - 1]
        }
        while cursor < items.count {
            let item = items[cursor]
            cursor += 1
            if node.test == nil { return item }
            guard let frame else { return nil }
            let saved = s.frame
            s.frame = frame
            defer { s.frame = saved }
            if try node.accepts(item, &s) { return item }
        }
        return nil
    }

    func advance(_ s: inout RenderState) throws(TemplateError) -> Value? {
        let v: Value?
        if hasPeek {
            v = peeked
            hasPeek = false
            peeked = nil
        } else {
            v = try fetch(&s)
        }
        guard let v else { return nil }
        index0 += 1
        before = current
        current = v
        return v
    }

    private func peek(_ s: inout RenderState) throws(TemplateError) -> Value? {
        if !hasPeek {
            peeked = try fetch(&s)
            hasPeek = true
        }
        return peeked
    }

    func length(_ s: inout RenderState) throws(TemplateError) -> Int {
        if let knownLength { return knownLength }
        var rest: [Value] = Array(pending[pendingPos...])
        pending = []
        pendingPos = 0
        while let v = try fetch(&s) { rest.append(v) }
        pending = rest
        let n = rest.count + index0 + 1 + ((hasPeek && peeked != nil) ? 1 : 0)
        knownLength = n
        return n
    }

    override func repr() -> String { "<LoopContext \(index0 + 1)/\(knownLength.map(String.init) ?? "?")>" }

    override func attribute(_ name: String, _ s: inout RenderState) throws(TemplateError) -> Value? {
        switch name {
        case "index0": return .int(index0)
        case "index": return .int(index0 + 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(try peek(&s) == nil)
        case "length": return .int(try length(&s))
        case "revindex": return .int(try length(&s) - index0)
        case "revindex0": return .int(try length(&s) - index0 - 1)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem":
            if index0 == 0 { return .undefined(UndefinedInfo(message: "there is no previous item")) }
            return before
        case "nextitem":
            if let n = try peek(&s) { return n }
            return .undefined(UndefinedInfo(message: "there is no next item"))
        case "cycle":
            return .object(NativeMethod(name: "cycle") { [self] (args, _) throws(TemplateError) -> Value in
                if args.positional.isEmpty { throw TemplateError(.type, "no items for cycling given") }
                if !args.keywords.isEmpty { throw TemplateError(.type, "cycle() got an unexpected keyword argument '\(args.keywords[0].0)'") }
                return args.positional[self.index0 % args.positional.count]
            })
        case "changed":
            return .object(NativeMethod(name: "changed") { [self] (args, _) throws(TemplateError) -> Value in
                if !args.keywords.isEmpty { throw TemplateError(.type, "changed() got an unexpected keyword argument '\(args.keywords[0].0)'") }
                let value = args.positional
                if let last = self.lastChanged, last.count == value.count, zip(last, value).allSatisfy({ Py.eq($0, $1) }) {
                    return .bool(false)
                }
                self.lastChanged = value
                return .bool(true)
            })
        default:
            return nil
        }
    }

    override var isCallable: Bool { true }
    override func call(_ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        throw TemplateError(.type, "The loop must have the 'recursive' marker to be called recursively.")
    }
}

// MARK: - range

/// Python's `range` (the sandbox limits it to 100,000 items).
final class RangeObject: PyObject, @unchecked Sendable {
    let start: Int, stop: Int, step: Int
    static let maxRange = 100_000

    init(start: Int, stop: Int, step: Int) {
        self.start = start
        self.stop = stop
        self.step = step
    }

    var count: Int {
        if step > 0 { return start < stop ? (stop - start - 1) / step + 1 : 0 }
        return start > stop ? (start - stop - 1) / (-step) + 1 : 0
    }

    override var typeName: String { "range" }
    override func repr() -> String { step == 1 ? "range(\(start), \(stop))" : "range(\(start), \(stop), \(step))" }
    override func iterate() -> [Value]? { (0..<count).map { .int(start + $0 * step) } }
    override var isIterable: Bool { true }
    override func length() -> Int? { count }
    override var truthy: Bool { count > 0 }

    override func item(_ key: Value, _ s: inout RenderState) throws(TemplateError) -> Value? {
        guard let i = Access.intIndex(key) else { return nil }
        guard let j = PyStr.normalizeIndex(i, count) else { return .undefined(nil) }
        return .int(start + j * step)
    }

    override func slice(_ a: Int?, _ b: Int?, _ c: Int?) throws(TemplateError) -> Value? {
        let (lo, hi, st) = try PyStr.sliceIndices(a, b, c, count)
        return .object(RangeObject(start: start + lo * step, stop: start + hi * step, step: step * st))
    }

    override func equals(_ other: PyObject) -> Bool {
        guard let o = other as? RangeObject else { return false }
        if count != o.count { return false }
        if count == 0 { return true }
        if start != o.start { return false }
        return count == 1 || step == o.step
    }
}

// MARK: - cycler and joiner

final class CyclerObject: PyObject, @unchecked Sendable {
    let items: [Value]
    var position = 0

    init(items: [Value]) { self.items = items }

    override var typeName: String { "Cycler" }
    override func repr() -> String { "<jinja2.utils.Cycler object>" }

    override func attribute(_ name: String, _ s: inout RenderState) throws(TemplateError) -> Value? {
        switch name {
        case "items": return .tuple(items)
        case "pos": return .int(position)
        case "current": return items[position]
        case "next":
            return .object(NativeMethod(name: "next") { [self] (_, _) throws(TemplateError) -> Value in
                let v = self.items[self.position]
                self.position = (self.position + 1) % self.items.count
                return v
            })
        case "reset":
            return .object(NativeMethod(name: "reset") { [self] (_, _) throws(TemplateError) -> Value in
                self.position = 0
                return .none
            })
        default: return nil
        }
    }
}

final class JoinerObject: PyObject, @unchecked Sendable {
    let separator: Value
    var used = false

    init(separator: Value) { self.separator = separator }

    override var typeName: String { "Joiner" }
    override func repr() -> String { "<jinja2.utils.Joiner object>" }
    override var isCallable: Bool { true }

    override func attribute(_ name: String, _ s: inout RenderState) throws(TemplateError) -> Value? {
        switch name {
        case "sep": return separator
        case "used": return .bool(used)
        default: return nil
        }
    }

    override func call(_ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        if !args.isEmpty { throw TemplateError(.type, "Joiner.__call__() takes 1 positional argument") }
        if !used {
            used = true
            return .string("")
        }
        return separator
    }
}

// MARK: - dict views

/// `d.items()`, `d.keys()`, `d.values()`: live views that print as `dict_items([...])`, iterate any
/// number of times, have a length, and are not JSON serializable.
final class DictView: PyObject, @unchecked Sendable {
    enum Kind: String { case items = "dict_items", keys = "dict_keys", values = "dict_values" }
    let kind: Kind
    let dict: Dict

    init(_ kind: Kind, _ dict: Dict) {
        self.kind = kind
        self.dict = dict
    }

    override var typeName: String { kind.rawValue }
    var elements: [Value] {
        switch kind {
        case .items: dict.pairs.map { .tuple([$0, $1]) }
        case .keys: dict.keys
        case .values: dict.values
        }
    }
    override func repr() -> String { kind.rawValue + "(" + ((try? PyText.repr(.list(elements))) ?? "[...]") + ")" }
    override func iterate() -> [Value]? { elements }
    override var isIterable: Bool { true }
    override func length() -> Int? { dict.count }
    override var truthy: Bool { !dict.isEmpty }
    override func equals(_ other: PyObject) -> Bool {
        guard let o = other as? DictView, o.kind == kind else { return false }
        if kind == .values { return self === o }
        // keys and items views compare as sets.
        let a = elements, b = o.elements
        if a.count != b.count { return false }
        return a.allSatisfy { x in b.contains { Py.eq(x, $0) } }
    }
}
