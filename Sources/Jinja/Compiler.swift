// The compiler: turns the AST into a tree of node objects, resolving every variable to a slot
// (Scope.swift) and every filter and test to its function, and specialising the hot cases
// (`x['key']`, string concatenation, `tojson` with constant options, method calls).

/// A compile-time frame (jinja's `Frame`).
struct CFrame {
    let symbols: Symbols
    /// Inside an `if` or inline-if: unknown filters/tests fail only when executed.
    var soft: Bool
    /// Directly inside a loop body of the same function: `break`/`continue` are allowed.
    var inLoop: Bool
    var scope: FunctionScope { symbols.scope }

    func softened() -> CFrame { CFrame(symbols: symbols, soft: true, inLoop: inLoop) }
}

/// The compiled template.
final class Program: @unchecked Sendable {
    let map: SourceMap
    let slotCount: Int
    let inits: [SlotInit]
    let body: [StmtNode]
    /// The template's free names, in the order of `RenderState.globals`.
    let globalNames: [String]
    /// What each free name is when the render context does not define it (a builtin or undefined).
    let defaultGlobals: [Value]

    init(map: SourceMap, slotCount: Int, inits: [SlotInit], body: [StmtNode], globalNames: [String]) {
        self.map = map
        self.slotCount = slotCount
        self.inits = inits
        self.body = body
        self.globalNames = globalNames
        self.defaultGlobals = globalNames.map { Globals.table[$0] ?? .undefined(nil) }
    }
}

final class Compiler {
    let map: SourceMap
    private var globalNames: [String] = []
    private var globalIndex: [String: Int] = [:]

    init(map: SourceMap) { self.map = map }

    func fail(_ message: String, _ pos: SourcePos) -> TemplateError {
        map.locate(TemplateError(.syntax, message), at: pos)
    }

    func global(_ name: String) -> Int {
        if let i = globalIndex[name] { return i }
        globalIndex[name] = globalNames.count
        globalNames.append(name)
        return globalNames.count - 1
    }

    func compile(_ body: [Stmt]) throws(TemplateError) -> Program {
        let scope = FunctionScope(parent: nil)
        let symbols = Symbols(parent: nil, scope: scope)
        symbols.analyzeBody(body)
        let frame = CFrame(symbols: symbols, soft: false, inLoop: false)
        let nodes = try block(body, frame)
        let entry = inits(symbols)
        return Program(map: map, slotCount: scope.slotCount, inits: entry, body: nodes, globalNames: globalNames)
    }

    /// Frame-entry initialisation of a symbol table's slots.
    func inits(_ sym: Symbols) -> [SlotInit] {
        var out: [SlotInit] = []
        for ref in sym.loadOrder {
            switch sym.loads[ref]! {
            case .param: continue
            case .resolve(let name): out.append(.resolve(slot: ref.slot, global: global(name)))
            case .alias(let other): out.append(.alias(slot: ref.slot, hops: ref.scope.depth - other.scope.depth, from: other.slot))
            case .undefined: out.append(.undefined(slot: ref.slot))
            }
        }
        return out
    }

    // MARK: Statements

    func block(_ stmts: [Stmt], _ f: CFrame) throws(TemplateError) -> [StmtNode] {
        var out: [StmtNode] = []
        for s in stmts { out.append(try stmt(s, f)) }
        return out
    }

    func stmt(_ s: Stmt, _ f: CFrame) throws(TemplateError) -> StmtNode {
        switch s {
        case .output(let pieces, let pos):
            return try output(pieces, f, pos)

        case .ifStmt(let test, let body, let elifs, let orElse, let pos):
            let soft = f.softened()
            var elseNodes = try block(orElse, soft)
            for e in elifs.reversed() {
                guard case .ifStmt(let t, let b, _, _, let epos) = e else { continue }
                elseNodes = [IfNode(test: try expr(t, soft), body: try block(b, soft), elseBody: elseNodes, epos)]
            }
            return IfNode(test: try expr(test, soft), body: try block(body, soft), elseBody: elseNodes, pos)

        case .forStmt(let target, let iter, let body, let orElse, let test, _, let pos):
            return try forLoop(target: target, iter: iter, body: body, orElse: orElse, test: test, f, pos)

        case .assign(let target, let value, let pos):
            return AssignNode(target: try assignTarget(target, f), value: try expr(value, f), pos)

        case .assignBlock(let target, let filter, let body, let pos):
            let sym = Symbols(parent: f.symbols, scope: f.scope)
            sym.analyzeBody(body)
            let inner = CFrame(symbols: sym, soft: false, inLoop: f.inLoop)
            let nodes = try block(body, inner)
            let captureSlot = f.scope.hiddenSlot()
            var filterNode: ExprNode? = nil
            if let filter {
                let input = LocalNode(slot: captureSlot, name: "<captured block>", pos)
                filterNode = try filterExpr(filter, capture: input, inner)
            }
            return AssignBlockNode(target: try assignTarget(target, f), inits: inits(sym), body: nodes,
                                   filter: filterNode, captureSlot: captureSlot, pos)

        case .macro(let name, let args, let defaults, let body, let pos):
            return try macro(name: name, args: args, defaults: defaults, body: body, f, pos)

        case .filterBlock(let filter, let body, let pos):
            let sym = Symbols(parent: f.symbols, scope: f.scope)
            sym.analyzeFilterBlock(body: body, filter: filter)
            let inner = CFrame(symbols: sym, soft: false, inLoop: f.inLoop)
            let nodes = try block(body, inner)
            let captureSlot = f.scope.hiddenSlot()
            let input = LocalNode(slot: captureSlot, name: "<captured block>", pos)
            let filterNode = try filterExpr(filter, capture: input, inner)
            return FilterBlockNode(inits: inits(sym), body: nodes, filter: filterNode, captureSlot: captureSlot, pos)

        case .with(let targets, let values, let body, let pos):
            let sym = Symbols(parent: f.symbols, scope: f.scope)
            sym.analyzeWith(targets: targets, body: body)
            let inner = CFrame(symbols: sym, soft: false, inLoop: f.inLoop)
            var valueNodes: [ExprNode] = []
            for v in values { valueNodes.append(try expr(v, f)) }
            var targetNodes: [AssignTarget] = []
            for t in targets { targetNodes.append(try assignTarget(t, inner)) }
            return WithNode(inits: inits(sym), targets: targetNodes, values: valueNodes, body: try block(body, inner), pos)

        case .generation(let body, let pos):
            let scope = FunctionScope(parent: f.scope)
            let sym = Symbols(parent: f.symbols, scope: scope)
            sym.analyzeBody(body)
            let inner = CFrame(symbols: sym, soft: false, inLoop: false)
            let nodes = try block(body, inner)
            return GenerationNode(function: FunctionCode(slotCount: scope.slotCount, inits: inits(sym), body: nodes), pos)

        case .breakStmt(let pos):
            if !f.inLoop { throw fail("'break' outside loop", pos) }
            return BreakNode(pos)

        case .continueStmt(let pos):
            if !f.inLoop { throw fail("'continue' not properly in loop", pos) }
            return ContinueNode(pos)

        case .failing(let error, let pos):
            return FailNode(error, pos)
        }
    }

    func output(_ pieces: [OutputPiece], _ f: CFrame, _ pos: SourcePos) throws(TemplateError) -> StmtNode {
        var out: [OutputNode.Piece] = []
        var pending: [UInt8] = []
        func flush() {
            if !pending.isEmpty {
                out.append(.bytes(pending))
                pending = []
            }
        }
        for p in pieces {
            switch p {
            case .data(let text):
                pending.append(contentsOf: text.utf8)
            case .expr(let e):
                let node = try expr(e, f)
                if let c = node as? ConstNode {
                    pending.append(contentsOf: c.text)
                } else {
                    flush()
                    out.append(.expr(node))
                }
            }
        }
        flush()
        return OutputNode(out, pos)
    }

    func forLoop(target: Expr, iter: Expr, body: [Stmt], orElse: [Stmt], test: Expr?, _ f: CFrame, _ pos: SourcePos) throws(TemplateError) -> StmtNode {
        if targetNames(target).contains("loop") {
            throw fail("Can't assign to special loop variable in for-loop target", pos)
        }
        let loopSym = Symbols(parent: f.symbols, scope: f.scope)
        let extended = !findUndeclared(body, ["loop"]).isEmpty
        var loopSlot: Int? = nil
        if extended { loopSlot = loopSym.declareParameter("loop").slot }
        loopSym.analyzeFor(target: target, body: body, orElse: orElse, test: test, branch: .body)
        let elseSym = Symbols(parent: f.symbols, scope: f.scope)
        if !orElse.isEmpty { elseSym.analyzeFor(target: target, body: body, orElse: orElse, test: test, branch: .orElse) }

        let iterNode = try expr(iter, f)
        let loopFrame = CFrame(symbols: loopSym, soft: false, inLoop: true)
        let targetNode = try assignTarget(target, loopFrame)

        var testTarget: AssignTarget? = nil
        var testNode: ExprNode? = nil
        var testInits: [SlotInit] = []
        if let test {
            let testSym = Symbols(parent: f.symbols, scope: f.scope, prefix: "t")
            testSym.analyzeFor(target: target, body: body, orElse: orElse, test: test, branch: .test)
            let testFrame = CFrame(symbols: testSym, soft: false, inLoop: false)
            testTarget = try assignTarget(target, testFrame)
            testNode = try expr(test, testFrame)
            testInits = inits(testSym)
        }
        let bodyNodes = try block(body, loopFrame)
        let elseFrame = CFrame(symbols: elseSym, soft: false, inLoop: f.inLoop)
        let elseNodes = try block(orElse, elseFrame)
        return ForNode(iter: iterNode, target: targetNode, loopSlot: loopSlot, bodyInits: inits(loopSym), body: bodyNodes,
                       elseInits: inits(elseSym), elseBody: elseNodes, testTarget: testTarget, test: testNode,
                       testInits: testInits, pos)
    }

    func targetNames(_ e: Expr) -> [String] {
        switch e {
        case .name(let n, _): [n]
        case .tuple(let items, _): items.flatMap(targetNames)
        default: []
        }
    }

    func macro(name: String, args: [String], defaults: [Expr], body: [Stmt], _ f: CFrame, _ pos: SourcePos) throws(TemplateError) -> StmtNode {
        let scope = FunctionScope(parent: f.scope)
        let sym = Symbols(parent: f.symbols, scope: scope)
        sym.analyzeMacro(args: args, defaults: defaults, body: body)
        let undeclared = findUndeclared(body, ["caller", "kwargs", "varargs"])
        var callerSlot: Int? = nil
        var kwargsSlot: Int? = nil
        var varargsSlot: Int? = nil
        if undeclared.contains("caller") {
            if let idx = args.firstIndex(of: "caller") {
                if idx < args.count - defaults.count {
                    throw fail("When defining macros or call blocks the special \"caller\" argument must be omitted or be given a default.", pos)
                }
            } else {
                callerSlot = sym.declareParameter("caller").slot
            }
        }
        if undeclared.contains("kwargs") && !args.contains("kwargs") { kwargsSlot = sym.declareParameter("kwargs").slot }
        if undeclared.contains("varargs") && !args.contains("varargs") { varargsSlot = sym.declareParameter("varargs").slot }
        sym.analyzeMacro(args: args, defaults: defaults, body: body)
        let inner = CFrame(symbols: sym, soft: false, inLoop: false)
        var defaultNodes = [ExprNode?](repeating: nil, count: args.count)
        for (i, d) in defaults.enumerated() {
            defaultNodes[args.count - defaults.count + i] = try expr(d, inner)
        }
        let paramSlots = args.map { sym.refs[$0]!.slot }
        let nodes = try block(body, inner)
        let code = MacroCode(name: name, params: args, paramSlots: paramSlots, defaults: defaultNodes,
                             varargsSlot: varargsSlot, kwargsSlot: kwargsSlot, callerSlot: callerSlot,
                             function: FunctionCode(slotCount: scope.slotCount, inits: inits(sym), body: nodes))
        guard let ref = f.symbols.findRef(name), ref.scope === f.scope else {
            throw fail("internal error: no slot for macro '\(name)'", pos)
        }
        return MacroDefNode(slot: ref.slot, code: code, pos)
    }

    func assignTarget(_ e: Expr, _ f: CFrame) throws(TemplateError) -> AssignTarget {
        switch e {
        case .name(let n, let pos):
            guard let ref = f.symbols.findRef(n), ref.scope === f.scope else {
                throw fail("internal error: no slot for '\(n)'", pos)
            }
            return .slot(ref.slot)
        case .tuple(let items, _):
            var ts: [AssignTarget] = []
            for i in items { ts.append(try assignTarget(i, f)) }
            return .tuple(ts)
        case .nsRef(let n, let attr, let pos):
            return .namespace(load(n, f, pos), attr)
        default:
            throw fail("can't assign to this expression", e.pos)
        }
    }

    // MARK: Expressions

    func load(_ name: String, _ f: CFrame, _ pos: SourcePos) -> ExprNode {
        guard let ref = f.symbols.findRef(name) else {
            return GlobalNode(index: global(name), name: name, pos)
        }
        if ref.scope === f.scope { return LocalNode(slot: ref.slot, name: name, pos) }
        return OuterNode(hops: f.scope.depth - ref.scope.depth, slot: ref.slot, name: name, pos)
    }

    func args(_ a: CallArgs, _ f: CFrame) throws(TemplateError) -> ArgsNode {
        if a.isEmpty { return .empty }
        var positional: [ExprNode] = []
        for x in a.args { positional.append(try expr(x, f)) }
        var keywords: [(String, ExprNode)] = []
        for (k, x) in a.kwargs { keywords.append((k, try expr(x, f))) }
        return ArgsNode(positional: positional, keywords: keywords,
                        dynArgs: try a.dynArgs.map { (x: Expr) throws(TemplateError) -> ExprNode in try expr(x, f) },
                        dynKwargs: try a.dynKwargs.map { (x: Expr) throws(TemplateError) -> ExprNode in try expr(x, f) })
    }

    func constValue(_ node: ExprNode) -> Value? { (node as? ConstNode)?.value }

    func expr(_ e: Expr, _ f: CFrame) throws(TemplateError) -> ExprNode {
        switch e {
        case .const(let v, let pos):
            return ConstNode(v, pos)
        case .name(let n, let pos):
            return load(n, f, pos)
        case .nsRef(let n, let attr, let pos):
            return GetAttrNode(load(n, f, pos), attr, pos)
        case .tuple(let items, let pos), .list(let items, let pos):
            var nodes: [ExprNode] = []
            for i in items { nodes.append(try expr(i, f)) }
            let isTuple: Bool = { if case .tuple = e { return true }; return false }()
            let consts = nodes.compactMap(constValue)
            if consts.count == nodes.count { return ConstNode(isTuple ? .tuple(consts) : .list(consts), pos) }
            return ListNode(nodes, isTuple: isTuple, pos)
        case .dict(let pairs, let pos):
            var keys: [ExprNode] = []
            var values: [ExprNode] = []
            for (k, v) in pairs {
                keys.append(try expr(k, f))
                values.append(try expr(v, f))
            }
            let ck = keys.compactMap(constValue), cv = values.compactMap(constValue)
            if ck.count == keys.count && cv.count == values.count, let d = try? Dict(pairs: Array(zip(ck, cv))) {
                return ConstNode(.dict(d), pos)
            }
            return DictNode(keys: keys, values: values, pos)
        case .getattr(let o, let name, let pos):
            let obj = try expr(o, f)
            if let local = obj as? LocalNode {
                return LocalAttrNode(slot: local.slot, varName: local.name, key: name, isAttribute: true, pos)
            }
            return GetAttrNode(obj, name, pos)
        case .getitem(let o, let key, let pos):
            let obj = try expr(o, f)
            if case .slice(let a, let b, let c, _) = key {
                let bounds = [try a.map { (x: Expr) throws(TemplateError) -> ExprNode in try expr(x, f) },
                              try b.map { (x: Expr) throws(TemplateError) -> ExprNode in try expr(x, f) },
                              try c.map { (x: Expr) throws(TemplateError) -> ExprNode in try expr(x, f) }]
                // jinja folds constant subscripts through the sandbox's getitem, which turns a
                // TypeError into Undefined; at runtime slices bypass it and raise.
                if let o = constValue(obj), bounds.allSatisfy({ $0 == nil || constValue($0!) != nil }) {
                    let v = bounds.map { $0.flatMap(constValue) ?? .none }
                    do {
                        return ConstNode(try Access.slice(o, v[0], v[1], v[2]), pos)
                    } catch where error.kind == .type {
                        return ConstNode(.undefined(nil), pos)
                    } catch {}
                }
                return SliceNode(obj, bounds[0], bounds[1], bounds[2], pos)
            }
            if case .const(.string(let k), _) = key {
                if let local = obj as? LocalNode {
                    return LocalAttrNode(slot: local.slot, varName: local.name, key: k, isAttribute: false, pos)
                }
                return GetConstStringItemNode(obj, k, pos)
            }
            return GetItemNode(obj, try expr(key, f), pos)
        case .slice(_, _, _, let pos):
            throw fail("slices are only allowed in subscripts", pos)
        case .call(let callee, let a, let pos):
            if case .getattr(let o, let name, _) = callee {
                return MethodCallNode(try expr(o, f), name, try args(a, f), pos)
            }
            return CallNode(try expr(callee, f), try args(a, f), pos)
        case .filter:
            return try filterExpr(e, capture: nil, f)
        case .test(let input, let name, let a, let pos):
            let inputNode = try expr(input, f)
            let argsNode = try args(a, f)
            guard let fn = Tests.table[name] else {
                let message = "No test named '\(name)'."
                if f.soft { return FailExprNode(TemplateError(.runtime, message), pos) }
                throw fail(message, pos)
            }
            if argsNode.isEmpty {
                switch name {
                case "defined": return TypeTestNode(inputNode, .defined, pos)
                case "undefined": return TypeTestNode(inputNode, .undefined, pos)
                case "none": return TypeTestNode(inputNode, .none, pos)
                case "string": return TypeTestNode(inputNode, .string, pos)
                case "mapping": return TypeTestNode(inputNode, .mapping, pos)
                default: break
                }
            }
            return TestNode(name: name, function: fn, input: inputNode, args: argsNode, pos)
        case .not(let x, let pos):
            return NotNode(try expr(x, f), pos)
        case .neg(let x, let pos):
            let node = try expr(x, f)
            if let c = constValue(node), let v = try? Py.negate(c) { return ConstNode(v, pos) }
            return UnaryNode(node, negate: true, pos)
        case .pos(let x, let pos):
            return UnaryNode(try expr(x, f), negate: false, pos)
        case .binary(.add, _, _, let pos):
            var operands: [Expr] = []
            var cur = e
            while case .binary(.add, let l, let r, _) = cur {
                operands.insert(r, at: 0)
                cur = l
            }
            operands.insert(cur, at: 0)
            var nodes: [ExprNode] = []
            for o in operands { nodes.append(try expr(o, f)) }
            return AddChainNode(nodes, pos)
        case .binary(let op, let l, let r, let pos):
            return BinaryNode(op, try expr(l, f), try expr(r, f), pos)
        case .concat(let items, let pos):
            var nodes: [ExprNode] = []
            for i in items { nodes.append(try expr(i, f)) }
            return ConcatNode(nodes, pos)
        case .and(let l, let r, let pos):
            return AndNode(try expr(l, f), try expr(r, f), pos)
        case .or(let l, let r, let pos):
            return OrNode(try expr(l, f), try expr(r, f), pos)
        case .compare(let first, let ops, let pos):
            var nodes: [(CompareOperator, ExprNode)] = []
            let firstNode = try expr(first, f)
            for (op, x) in ops { nodes.append((op, try expr(x, f))) }
            if nodes.count == 1 {
                let (op, right) = nodes[0]
                if (op == .eq || op == .ne), let c = constValue(right), c.isScalar {
                    return CompareConstNode(firstNode, c, negate: op == .ne, pos)
                }
                if (op == .in || op == .notIn), let c = constValue(firstNode), c.isScalar {
                    return ContainsConstNode(c, right, negate: op == .notIn, pos)
                }
            }
            return CompareNode(firstNode, nodes, pos)
        case .condExpr(let test, let then, let orElse, let pos):
            let soft = f.softened()
            return CondNode(test: try expr(test, soft), then: try expr(then, soft),
                            otherwise: try orElse.map { (x: Expr) throws(TemplateError) -> ExprNode in try expr(x, soft) }, pos)
        }
    }

    /// A filter expression. `capture` is the input of the innermost filter of a chain that has
    /// none (`{% filter f|g %}` blocks and `{% set x | f %}` pass the captured text).
    func filterExpr(_ e: Expr, capture: ExprNode?, _ f: CFrame) throws(TemplateError) -> ExprNode {
        guard case .filter(let inner, let name, let a, let pos) = e else { return try expr(e, f) }
        let input: ExprNode
        if let inner {
            if capture != nil, case .filter = inner {
                input = try filterExpr(inner, capture: capture, f)
            } else {
                input = try expr(inner, f)
            }
        } else {
            guard let capture else { throw fail("filter without input", pos) }
            input = capture
        }
        let argsNode = try args(a, f)
        if name == "tojson", a.dynArgs == nil, a.dynKwargs == nil {
            let consts = argsNode.positional.compactMap(constValue)
            let kwConsts = argsNode.keywords.compactMap { k, v in constValue(v).map { (k, $0) } }
            if consts.count == argsNode.positional.count && kwConsts.count == argsNode.keywords.count,
                let p = try? Methods.bind("tojson", Arguments(consts, keywords: kwConsts), ["ensure_ascii", "indent", "separators", "sort_keys"]),
                let opts = try? JSONDumpOptions(ensureASCII: p[0] ?? .bool(false), indent: p[1] ?? .none,
                                                separators: p[2] ?? .none, sortKeys: p[3] ?? .bool(false))
            {
                return ToJSONNode(input: input, options: opts, pos)
            }
        }
        if name == "trim" && argsNode.isEmpty { return TrimNode(input: input, pos) }
        guard let fn = Filters.table[name] else {
            let message = "No filter named '\(name)'."
            if Filters.unsupported.contains(name) {
                throw map.locate(TemplateError(.unsupported, "the '\(name)' filter is not supported"), at: pos)
            }
            if f.soft { return FailExprNode(TemplateError(.runtime, message), pos) }
            throw fail(message, pos)
        }
        return FilterNode(name: name, function: fn, input: input, args: argsNode, pos)
    }
}

/// A name no frame defines (only reachable if analysis and compilation disagree): read from the
/// render context.
final class GlobalNode: ExprNode {
    let index: Int
    let name: String

    init(index: Int, name: String, _ pos: SourcePos) {
        self.index = index
        self.name = name
        super.init(pos)
    }

    override func eval(_ s: inout RenderState) throws(TemplateError) -> Value { s.globals[index] }
    override var desc: String { name }
}
