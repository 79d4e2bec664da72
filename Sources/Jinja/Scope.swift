// Variable scoping, ported from jinja2's idtracking.py. Each frame (template body, loop body,
// macro, `{% set %}` block, ...) gets a symbol table mapping names to slots and saying how each
// slot is initialised when the frame is entered:
//   param     - assigned by the construct itself (loop target, macro argument)
//   resolve   - read from the render context
//   alias     - copied from the enclosing scope (so `set` inside a loop does not leak out)
//   undefined - not assigned yet
// Slots live in the frame of the enclosing *function* (the template body, a macro, a generation
// block); nested functions reach their parents' slots by hop count.

/// The variables of one function: template body, macro, or generation block.
final class FunctionScope {
    let parent: FunctionScope?
    let depth: Int
    private(set) var slotCount = 0
    private var idents: [String: Int] = [:]

    init(parent: FunctionScope?) {
        self.parent = parent
        self.depth = (parent?.depth ?? -1) + 1
    }

    func slot(for ident: String) -> Int {
        if let s = idents[ident] { return s }
        let s = slotCount
        slotCount += 1
        idents[ident] = s
        return s
    }

    /// A slot no template name can refer to (captured text for `{% filter %}` and friends).
    func hiddenSlot() -> Int {
        let s = slotCount
        slotCount += 1
        return s
    }
}

/// A variable: a slot of a function scope.
struct Ref: Hashable {
    let scope: FunctionScope
    let slot: Int

    static func == (a: Ref, b: Ref) -> Bool { a.scope === b.scope && a.slot == b.slot }
    func hash(into h: inout Hasher) {
        h.combine(ObjectIdentifier(scope))
        h.combine(slot)
    }
}

enum LoadKind {
    case param
    case resolve(String)
    case alias(Ref)
    case undefined
}

/// One frame's symbol table (jinja's `Symbols`).
final class Symbols {
    let parent: Symbols?
    let level: Int
    let scope: FunctionScope
    /// Distinguishes frames that jinja compiles into separate Python functions but that we keep
    /// in the same function scope (the filter test of a `for ... if` loop).
    let prefix: String
    var refs: [String: Ref] = [:]
    var loads: [Ref: LoadKind] = [:]
    var loadOrder: [Ref] = []
    var stores: Set<String> = []

    init(parent: Symbols?, scope: FunctionScope, prefix: String = "l") {
        self.parent = parent
        self.level = (parent?.level ?? -1) + 1
        self.scope = scope
        self.prefix = prefix
    }

    private init(copying other: Symbols) {
        parent = other.parent
        level = other.level
        scope = other.scope
        prefix = other.prefix
        refs = other.refs
        loads = other.loads
        loadOrder = other.loadOrder
        stores = other.stores
    }

    func copy() -> Symbols { Symbols(copying: self) }

    private func setLoad(_ ref: Ref, _ load: LoadKind) {
        if loads[ref] == nil { loadOrder.append(ref) }
        loads[ref] = load
    }

    @discardableResult
    func defineRef(_ name: String, _ load: LoadKind?) -> Ref {
        let ref = Ref(scope: scope, slot: scope.slot(for: "\(prefix)_\(level)_\(name)"))
        refs[name] = ref
        if let load { setLoad(ref, load) }
        return ref
    }

    func findLoad(_ ref: Ref) -> LoadKind? {
        if let l = loads[ref] { return l }
        return parent?.findLoad(ref)
    }

    func findRef(_ name: String) -> Ref? {
        if let r = refs[name] { return r }
        return parent?.findRef(name)
    }

    func store(_ name: String) {
        stores.insert(name)
        if refs[name] == nil {
            if let outer = parent?.findRef(name) {
                defineRef(name, .alias(outer))
                return
            }
            defineRef(name, .undefined)
        }
    }

    @discardableResult
    func declareParameter(_ name: String) -> Ref {
        stores.insert(name)
        return defineRef(name, .param)
    }

    func load(_ name: String) {
        if findRef(name) == nil { defineRef(name, .resolve(name)) }
    }

    func branchUpdate(_ branches: [Symbols]) {
        var branchStores = Set<String>()
        for b in branches { branchStores.formUnion(b.stores) }
        branchStores.subtract(stores)
        for b in branches {
            for (k, v) in b.refs { refs[k] = v }
            for r in b.loadOrder { setLoad(r, b.loads[r]!) }
            stores.formUnion(b.stores)
        }
        for name in branchStores.sorted() {
            guard let target = findRef(name) else { continue }
            if let outer = parent?.findRef(name) {
                setLoad(target, .alias(outer))
            } else {
                setLoad(target, .resolve(name))
            }
        }
    }

    // MARK: Frame analysis (jinja's RootVisitor entry points)

    func analyzeBody(_ body: [Stmt]) {
        let v = FrameSymbolVisitor(self)
        for s in body { v.visit(s) }
    }

    func analyzeMacro(args: [String], defaults: [Expr], body: [Stmt]) {
        for a in args { declareParameter(a) }
        let v = FrameSymbolVisitor(self)
        for d in defaults { v.visit(d) }
        for s in body { v.visit(s) }
    }

    enum ForBranch { case body, orElse, test }

    func analyzeFor(target: Expr, body: [Stmt], orElse: [Stmt], test: Expr?, branch: ForBranch) {
        let v = FrameSymbolVisitor(self)
        switch branch {
        case .body:
            v.visitTarget(target, asParam: true)
            for s in body { v.visit(s) }
        case .orElse:
            for s in orElse { v.visit(s) }
        case .test:
            v.visitTarget(target, asParam: true)
            if let test { v.visit(test) }
        }
    }

    func analyzeFilterBlock(body: [Stmt], filter: Expr) {
        let v = FrameSymbolVisitor(self)
        for s in body { v.visit(s) }
        v.visit(filter)
    }

    func analyzeWith(targets: [Expr], body: [Stmt]) {
        let v = FrameSymbolVisitor(self)
        for t in targets { v.visitTarget(t, asParam: true) }
        for s in body { v.visit(s) }
    }
}

/// Walks one frame's statements recording loads and stores; stops at nested frames.
final class FrameSymbolVisitor {
    var symbols: Symbols

    init(_ symbols: Symbols) { self.symbols = symbols }

    func visit(_ s: Stmt) {
        switch s {
        case .output(let pieces, _):
            for p in pieces { if case .expr(let e) = p { visit(e) } }
        case .ifStmt(let test, let body, let elifs, let orElse, _):
            visit(test)
            let original = symbols
            func inner(_ stmts: [Stmt]) -> Symbols {
                symbols = original.copy()
                for x in stmts { visit(x) }
                let rv = symbols
                symbols = original
                return rv
            }
            let b = inner(body), e = inner(elifs), o = inner(orElse)
            original.branchUpdate([b, e, o])
        case .forStmt(_, let iter, _, _, _, _, _):
            visit(iter)
        case .assign(let target, let value, _):
            visit(value)
            visitTarget(target, asParam: false)
        case .assignBlock(let target, _, _, _):
            visitTarget(target, asParam: false)
        case .macro(let name, _, _, _, _):
            symbols.store(name)
        case .filterBlock(let filter, _, _):
            visit(filter)
        case .with(_, let values, _, _):
            for v in values { visit(v) }
        case .generation, .breakStmt, .continueStmt, .failing:
            break
        }
    }

    func visitTarget(_ e: Expr, asParam: Bool) {
        switch e {
        case .name(let n, _):
            if asParam { symbols.declareParameter(n) } else { symbols.store(n) }
        case .tuple(let items, _):
            for i in items { visitTarget(i, asParam: asParam) }
        case .nsRef(let n, _, _):
            symbols.load(n)
        default:
            visit(e)
        }
    }

    func visit(_ e: Expr) {
        switch e {
        case .const: break
        case .name(let n, _): symbols.load(n)
        case .nsRef(let n, _, _): symbols.load(n)
        case .tuple(let items, _), .list(let items, _), .concat(let items, _):
            for i in items { visit(i) }
        case .dict(let pairs, _):
            for (k, v) in pairs {
                visit(k)
                visit(v)
            }
        case .getattr(let o, _, _): visit(o)
        case .getitem(let o, let k, _):
            visit(o)
            visit(k)
        case .slice(let a, let b, let c, _):
            if let a { visit(a) }
            if let b { visit(b) }
            if let c { visit(c) }
        case .call(let f, let args, _):
            visit(f)
            visitArgs(args)
        case .filter(let input, _, let args, _):
            if let input { visit(input) }
            visitArgs(args)
        case .test(let input, _, let args, _):
            visit(input)
            visitArgs(args)
        case .not(let x, _), .neg(let x, _), .pos(let x, _): visit(x)
        case .binary(_, let l, let r, _), .and(let l, let r, _), .or(let l, let r, _):
            visit(l)
            visit(r)
        case .compare(let first, let ops, _):
            visit(first)
            for (_, x) in ops { visit(x) }
        case .condExpr(let test, let then, let orElse, _):
            visit(test)
            visit(then)
            if let orElse { visit(orElse) }
        }
    }

    func visitArgs(_ a: CallArgs) {
        for x in a.args { visit(x) }
        for (_, x) in a.kwargs { visit(x) }
        if let d = a.dynArgs { visit(d) }
        if let d = a.dynKwargs { visit(d) }
    }
}

/// jinja's `find_undeclared`: which of `names` are read in `body` before being assigned.
func findUndeclared(_ body: [Stmt], _ names: Set<String>) -> Set<String> {
    var candidates = names
    var found = Set<String>()
    func expr(_ e: Expr) {
        switch e {
        case .const: break
        case .name(let n, _):
            if candidates.contains(n) { found.insert(n) }
        case .nsRef(let n, _, _):
            if candidates.contains(n) { found.insert(n) }
        case .tuple(let items, _), .list(let items, _), .concat(let items, _): items.forEach(expr)
        case .dict(let pairs, _): for (k, v) in pairs { expr(k); expr(v) }
        case .getattr(let o, _, _): expr(o)
        case .getitem(let o, let k, _): expr(o); expr(k)
        case .slice(let a, let b, let c, _): [a, b, c].compactMap { $0 }.forEach(expr)
        case .call(let f, let a, _): expr(f); args(a)
        case .filter(let i, _, let a, _): if let i { expr(i) }; args(a)
        case .test(let i, _, let a, _): expr(i); args(a)
        case .not(let x, _), .neg(let x, _), .pos(let x, _): expr(x)
        case .binary(_, let l, let r, _), .and(let l, let r, _), .or(let l, let r, _): expr(l); expr(r)
        case .compare(let f, let ops, _): expr(f); ops.forEach { expr($0.1) }
        case .condExpr(let t, let a, let b, _): expr(t); expr(a); if let b { expr(b) }
        }
    }
    func args(_ a: CallArgs) {
        a.args.forEach(expr)
        a.kwargs.forEach { expr($0.1) }
        if let d = a.dynArgs { expr(d) }
        if let d = a.dynKwargs { expr(d) }
    }
    func target(_ e: Expr) {
        switch e {
        case .name(let n, _): candidates.remove(n)
        case .tuple(let items, _): items.forEach(target)
        case .nsRef(let n, _, _): if candidates.contains(n) { found.insert(n) }
        default: expr(e)
        }
    }
    func stmt(_ s: Stmt) {
        switch s {
        case .output(let pieces, _): for p in pieces { if case .expr(let e) = p { expr(e) } }
        case .ifStmt(let t, let b, let el, let o, _): expr(t); b.forEach(stmt); el.forEach(stmt); o.forEach(stmt)
        case .forStmt(let tg, let it, let b, let o, let t, _, _):
            target(tg); expr(it); b.forEach(stmt); o.forEach(stmt); if let t { expr(t) }
        case .assign(let tg, let v, _): target(tg); expr(v)
        case .assignBlock(let tg, let f, let b, _): target(tg); if let f { expr(f) }; b.forEach(stmt)
        case .macro(let n, let a, let d, let b, _):
            candidates.remove(n)
            a.forEach { candidates.remove($0) }
            d.forEach(expr)
            b.forEach(stmt)
        case .filterBlock(let f, let b, _): b.forEach(stmt); expr(f)
        case .with(let ts, let vs, let b, _): ts.forEach(target); vs.forEach(expr); b.forEach(stmt)
        case .generation(let b, _): b.forEach(stmt)
        case .breakStmt, .continueStmt, .failing: break
        }
    }
    body.forEach(stmt)
    return found
}
