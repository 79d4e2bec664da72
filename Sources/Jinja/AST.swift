// The parsed template, node for node as jinja2's `nodes` module builds it.

/// Call-like arguments: `f(a, b, k=v, *args, **kwargs)`.
struct CallArgs: Sendable {
    var args: [Expr] = []
    var kwargs: [(String, Expr)] = []
    var dynArgs: Expr? = nil
    var dynKwargs: Expr? = nil

    static let empty = CallArgs()
    var isEmpty: Bool { args.isEmpty && kwargs.isEmpty && dynArgs == nil && dynKwargs == nil }
}

enum CompareOperator: String, Sendable {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", `in` = "in", notIn = "not in"
}

/// An expression.
indirect enum Expr: Sendable {
    case const(Value, SourcePos)
    /// A variable read (`ctx` load) or, in assignment targets, a store.
    case name(String, SourcePos)
    /// `ns.attr` as an assignment target.
    case nsRef(String, String, SourcePos)
    case tuple([Expr], SourcePos)
    case list([Expr], SourcePos)
    case dict([(Expr, Expr)], SourcePos)
    case getattr(Expr, String, SourcePos)
    case getitem(Expr, Expr, SourcePos)
    /// `a:b:c` inside a subscript.
    case slice(Expr?, Expr?, Expr?, SourcePos)
    case call(Expr, CallArgs, SourcePos)
    /// `input | name(args)`; the input is nil for `{% filter %}` blocks and `{% set x | f %}`.
    case filter(Expr?, String, CallArgs, SourcePos)
    case test(Expr, String, CallArgs, SourcePos)
    case not(Expr, SourcePos)
    case neg(Expr, SourcePos)
    case pos(Expr, SourcePos)
    case binary(Py.BinaryOp, Expr, Expr, SourcePos)
    /// `a ~ b ~ c`
    case concat([Expr], SourcePos)
    case and(Expr, Expr, SourcePos)
    case or(Expr, Expr, SourcePos)
    case compare(Expr, [(CompareOperator, Expr)], SourcePos)
    case condExpr(test: Expr, then: Expr, else: Expr?, SourcePos)

    var pos: SourcePos {
        switch self {
        case .const(_, let p), .name(_, let p), .nsRef(_, _, let p), .tuple(_, let p), .list(_, let p),
            .dict(_, let p), .getattr(_, _, let p), .getitem(_, _, let p), .slice(_, _, _, let p),
            .call(_, _, let p), .filter(_, _, _, let p), .test(_, _, _, let p), .not(_, let p),
            .neg(_, let p), .pos(_, let p), .binary(_, _, _, let p), .concat(_, let p), .and(_, _, let p),
            .or(_, _, let p), .compare(_, _, let p), .condExpr(_, _, _, let p):
            return p
        }
    }

    /// Whether this node can be an assignment target (jinja's `can_assign`).
    var canAssign: Bool {
        switch self {
        case .name(let n, _): return !["true", "false", "none", "True", "False", "None"].contains(n)
        case .nsRef: return true
        case .tuple(let items, _): return items.allSatisfy(\.canAssign)
        default: return false
        }
    }

    /// A short description used in error messages ("'message.content'").
    var describe: String {
        switch self {
        case .name(let n, _): return n
        case .getattr(let o, let a, _): return o.describe + "." + a
        case .getitem(let o, .const(let k, _), _):
            return o.describe + "[" + ((try? PyText.repr(k)) ?? "...") + "]"
        case .getitem(let o, _, _): return o.describe + "[...]"
        case .call(let f, _, _): return f.describe + "(...)"
        case .filter(let i, let n, _, _): return (i?.describe ?? "") + "|" + n
        case .const(let v, _): return (try? PyText.repr(v)) ?? "constant"
        default: return "expression"
        }
    }
}

/// A piece of an output node: literal text or an expression.
enum OutputPiece: Sendable {
    case data(String)
    case expr(Expr)
}

/// A statement.
indirect enum Stmt: Sendable {
    case output([OutputPiece], SourcePos)
    /// `if`; `elifs` are If statements with empty elifs/else of their own (as jinja builds them).
    case ifStmt(test: Expr, body: [Stmt], elifs: [Stmt], else: [Stmt], SourcePos)
    case forStmt(target: Expr, iter: Expr, body: [Stmt], else: [Stmt], test: Expr?, recursive: Bool, SourcePos)
    case assign(target: Expr, value: Expr, SourcePos)
    case assignBlock(target: Expr, filter: Expr?, body: [Stmt], SourcePos)
    case macro(name: String, args: [String], defaults: [Expr], body: [Stmt], SourcePos)
    case filterBlock(filter: Expr, body: [Stmt], SourcePos)
    case with(targets: [Expr], values: [Expr], body: [Stmt], SourcePos)
    /// `{% generation %}...{% endgeneration %}` (transformers' AssistantTracker): a call block.
    case generation(body: [Stmt], SourcePos)
    case breakStmt(SourcePos)
    case continueStmt(SourcePos)
    /// A tag jinja2 parses but that cannot work in HF's environment (`include`, `import`, ...):
    /// raises the given error when executed.
    case failing(TemplateError, SourcePos)
}
