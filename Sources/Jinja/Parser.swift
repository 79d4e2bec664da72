// The parser: a port of jinja2's `Parser` (same precedence, same quirks: filters bind tighter than
// arithmetic, `-x|f` is `(-x)|f`, `-2 ** 2` is 4, `a if b` without else yields Undefined).

struct Parser {
    var tokens: [Token]
    var i = 0
    let map: SourceMap
    var tagStack: [String] = []
    var endTokenStack: [[String]] = []
    var depth = 0
    /// Nesting deeper than this (parentheses, nested blocks) is a syntax error rather than a crash.
    static let maxDepth = 200

    init(tokens: [Token], map: SourceMap) {
        self.tokens = tokens
        self.map = map
    }

    var current: Token { tokens[i] }
    func look() -> Token { tokens[min(i + 1, tokens.count - 1)] }

    @discardableResult
    mutating func next() -> Token {
        let t = tokens[i]
        if i < tokens.count - 1 { i += 1 }
        return t
    }

    func pos(_ t: Token) -> SourcePos { SourcePos(t.offset) }

    func fail(_ message: String, _ at: Token? = nil) -> TemplateError {
        map.locate(TemplateError(.syntax, message), at: pos(at ?? current))
    }

    mutating func enter() throws(TemplateError) {
        depth += 1
        if depth > Parser.maxDepth { throw fail("template nesting too deep (more than \(Parser.maxDepth) levels)") }
    }

    mutating func leave() { depth -= 1 }

    func describeExpected(_ expr: String) -> String {
        if expr.hasPrefix("name:") { return String(expr.dropFirst(5)) }
        switch expr {
        case "block_end": return "end of statement block"
        case "variable_end": return "end of print statement"
        case "name": return "name"
        default: return expr
        }
    }

    mutating func expectOp(_ op: Op) throws(TemplateError) -> Token {
        if current.isOp(op) { return next() }
        throw unexpected(expected: op.rawValue)
    }

    mutating func expectName(_ n: String) throws(TemplateError) -> Token {
        if current.isName(n) { return next() }
        throw unexpected(expected: n)
    }

    mutating func expectAnyName() throws(TemplateError) -> String {
        if case .name(let n) = current.kind {
            next()
            return n
        }
        throw unexpected(expected: "name")
    }

    mutating func expectBlockEnd() throws(TemplateError) {
        if case .blockEnd = current.kind {
            next()
            return
        }
        throw unexpected(expected: "end of statement block")
    }

    func unexpected(expected: String) -> TemplateError {
        if case .eof = current.kind { return fail("unexpected end of template, expected '\(expected)'.") }
        return fail("expected token '\(expected)', got '\(current.description)'")
    }

    @inline(__always)
    func currentIsAny(_ names: [String]) -> Bool {
        guard case .name(let n) = current.kind else { return false }
        return names.contains { $0 == "name:" + n }
    }

    // MARK: Template structure

    mutating func parse() throws(TemplateError) -> [Stmt] {
        try subparse(nil)
    }

    mutating func subparse(_ endTokens: [String]?) throws(TemplateError) -> [Stmt] {
        var body: [Stmt] = []
        var data: [OutputPiece] = []
        var dataPos = SourcePos.unknown
        if let endTokens { endTokenStack.append(endTokens) }
        defer { if endTokens != nil { endTokenStack.removeLast() } }
        func flush() {
            if !data.isEmpty {
                body.append(.output(data, dataPos))
                data = []
            }
        }
        while true {
            let t = current
            switch t.kind {
            case .eof:
                flush()
                return body
            case .data(let s):
                if data.isEmpty { dataPos = pos(t) }
                if !s.isEmpty { data.append(.data(s)) }
                next()
            case .variableBegin:
                if data.isEmpty { dataPos = pos(t) }
                next()
                data.append(.expr(try parseTuple(withCondexpr: true)))
                if case .variableEnd = current.kind { next() } else { throw unexpected(expected: "end of print statement") }
            case .blockBegin:
                flush()
                next()
                if let endTokens, currentIsAny(endTokens) { return body }
                body.append(contentsOf: try parseStatement())
                try expectBlockEnd()
            default:
                throw fail("internal parsing error")
            }
        }
    }

    mutating func parseStatements(_ endTokens: [String], dropNeedle: Bool = false) throws(TemplateError) -> [Stmt] {
        if current.isOp(.colon) { next() }
        try expectBlockEnd()
        try enter()
        let result = try subparse(endTokens)
        leave()
        if case .eof = current.kind { throw failEOF(endTokens) }
        if dropNeedle { next() }
        return result
    }

    func failEOF(_ endTokens: [String]?) -> TemplateError {
        var stack = endTokenStack
        if let endTokens { stack.append(endTokens) }
        return failUnknownOrEOF(nil, stack)
    }

    func failUnknownOrEOF(_ name: String?, _ stack: [[String]]) -> TemplateError {
        var expected = Set<String>()
        for exprs in stack { for e in exprs { expected.insert(describeExpected(e)) } }
        let looking = stack.last.map { $0.map { "'\(describeExpected($0))'" }.joined(separator: " or ") }
        var message: [String] = []
        if let name { message.append("Encountered unknown tag '\(name)'.") } else { message.append("Unexpected end of template.") }
        if let looking, !looking.isEmpty {
            if let name, expected.contains(name) {
                message.append("You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for \(looking).")
            } else {
                message.append("Jinja was looking for the following tags: \(looking).")
            }
        }
        if let last = tagStack.last { message.append("The innermost block that needs to be closed is '\(last)'.") }
        return fail(message.joined(separator: " "))
    }

    mutating func parseStatement() throws(TemplateError) -> [Stmt] {
        let t = current
        guard case .name(let tag) = t.kind else { throw fail("tag name expected", t) }
        tagStack.append(tag)
        defer { tagStack.removeLast() }
        switch tag {
        case "for": return [try parseFor()]
        case "if": return [try parseIf()]
        case "set": return [try parseSet()]
        case "macro": return [try parseMacro()]
        case "with": return [try parseWith()]
        case "print":
            let p = pos(next())
            var exprs: [OutputPiece] = []
            while true {
                if case .blockEnd = current.kind { break }
                if !exprs.isEmpty { _ = try expectOp(.comma) }
                exprs.append(.expr(try parseExpression()))
            }
            return [.output(exprs, p)]
        case "filter":
            let p = pos(next())
            let filter = try parseFilter(nil, startInline: true)!
            let body = try parseStatements(["name:endfilter"], dropNeedle: true)
            return [.filterBlock(filter: filter, body: body, p)]
        case "generation":
            let p = pos(next())
            let body = try parseStatements(["name:endgeneration"], dropNeedle: true)
            return [.generation(body: body, p)]
        case "break":
            return [.breakStmt(pos(next()))]
        case "continue":
            return [.continueStmt(pos(next()))]
        case "include", "extends", "import", "from":
            return [try parseLoaderTag(tag)]
        case "block", "call", "autoescape":
            throw map.locate(TemplateError(.unsupported, "the '\(tag)' tag is not supported"), at: pos(t))
        default:
            tagStack.removeLast()
            defer { tagStack.append(tag) }
            throw failUnknownOrEOF(tag, endTokenStack)
        }
    }

    /// `include`/`extends`/`import`/`from`: parsed like jinja, but HF's environment has no loader, so
    /// executing them raises TypeError("no loader for this environment specified").
    mutating func parseLoaderTag(_ tag: String) throws(TemplateError) -> Stmt {
        let p = pos(next())
        _ = try parseExpression()
        switch tag {
        case "include":
            if current.isName("ignore") && look().isName("missing") {
                next()
                next()
            }
            try parseImportContext()
        case "import":
            _ = try expectName("as")
            _ = try expectAnyName()
            try parseImportContext()
        case "from":
            _ = try expectName("import")
            var first = true
            while true {
                if !first { _ = try expectOp(.comma) }
                first = false
                if case .name = current.kind {
                    if (current.isName("with") || current.isName("without")) && look().isName("context") {
                        next()
                        next()
                        break
                    }
                    let n = try expectAnyName()
                    if n.hasPrefix("_") { throw fail("names starting with an underline can not be imported") }
                    if current.isName("as") {
                        next()
                        _ = try expectAnyName()
                    }
                    if (current.isName("with") || current.isName("without")) && look().isName("context") {
                        next()
                        next()
                        break
                    }
                    if !current.isOp(.comma) { break }
                } else {
                    _ = try expectAnyName()
                }
            }
        default: break
        }
        return .failing(TemplateError(.type, "no loader for this environment specified"), p)
    }

    mutating func parseImportContext() throws(TemplateError) {
        if (current.isName("with") || current.isName("without")) && look().isName("context") {
            next()
            next()
        }
    }

    mutating func parseSet() throws(TemplateError) -> Stmt {
        let p = pos(next())
        let target = try parseAssignTarget(withNamespace: true)
        if current.isOp(.assign) {
            next()
            let value = try parseTuple()
            return .assign(target: target, value: value, p)
        }
        let filter = try parseFilter(nil)
        let body = try parseStatements(["name:endset"], dropNeedle: true)
        return .assignBlock(target: target, filter: filter, body: body, p)
    }

    mutating func parseFor() throws(TemplateError) -> Stmt {
        let p = pos(try expectName("for"))
        let target = try parseAssignTarget(extraEndRules: ["name:in"])
        _ = try expectName("in")
        let iter = try parseTuple(withCondexpr: false, extraEndRules: ["name:recursive"])
        var test: Expr? = nil
        if current.isName("if") {
            next()
            test = try parseExpression()
        }
        let recursive = current.isName("recursive")
        if recursive {
            throw map.locate(TemplateError(.unsupported, "recursive for loops are not supported"), at: pos(current))
        }
        let body = try parseStatements(["name:endfor", "name:else"])
        var elseBody: [Stmt] = []
        if next().isName("else") {
            elseBody = try parseStatements(["name:endfor"], dropNeedle: true)
        }
        return .forStmt(target: target, iter: iter, body: body, else: elseBody, test: test, recursive: false, p)
    }

    mutating func parseIf() throws(TemplateError) -> Stmt {
        let p = pos(try expectName("if"))
        let test = try parseTuple(withCondexpr: false)
        let body = try parseStatements(["name:elif", "name:else", "name:endif"])
        var elifs: [Stmt] = []
        var elseBody: [Stmt] = []
        while true {
            let t = next()
            if t.isName("elif") {
                let ep = pos(current)
                let etest = try parseTuple(withCondexpr: false)
                let ebody = try parseStatements(["name:elif", "name:else", "name:endif"])
                elifs.append(.ifStmt(test: etest, body: ebody, elifs: [], else: [], ep))
                continue
            } else if t.isName("else") {
                elseBody = try parseStatements(["name:endif"], dropNeedle: true)
            }
            break
        }
        return .ifStmt(test: test, body: body, elifs: elifs, else: elseBody, p)
    }

    mutating func parseWith() throws(TemplateError) -> Stmt {
        let p = pos(next())
        var targets: [Expr] = []
        var values: [Expr] = []
        while true {
            if case .blockEnd = current.kind { break }
            if !targets.isEmpty { _ = try expectOp(.comma) }
            let target = try parseAssignTarget()
            targets.append(target)
            _ = try expectOp(.assign)
            values.append(try parseExpression())
        }
        let body = try parseStatements(["name:endwith"], dropNeedle: true)
        return .with(targets: targets, values: values, body: body, p)
    }

    mutating func parseMacro() throws(TemplateError) -> Stmt {
        let p = pos(next())
        let nameTok = current
        let name = try expectAnyName()
        if !Expr.name(name, pos(nameTok)).canAssign { throw fail("can't assign to 'name'", nameTok) }
        var args: [String] = []
        var defaults: [Expr] = []
        _ = try expectOp(.lparen)
        while !current.isOp(.rparen) {
            if !args.isEmpty { _ = try expectOp(.comma) }
            let at = current
            let arg = try expectAnyName()
            if !Expr.name(arg, pos(at)).canAssign { throw fail("can't assign to 'name'", at) }
            if current.isOp(.assign) {
                next()
                defaults.append(try parseExpression())
            } else if !defaults.isEmpty {
                throw fail("non-default argument follows default argument")
            }
            args.append(arg)
        }
        _ = try expectOp(.rparen)
        let body = try parseStatements(["name:endmacro"], dropNeedle: true)
        return .macro(name: name, args: args, defaults: defaults, body: body, p)
    }

    // MARK: Assignment targets

    mutating func parseAssignTarget(withTuple: Bool = true, extraEndRules: [String]? = nil, withNamespace: Bool = false) throws(TemplateError) -> Expr {
        let target: Expr
        if withTuple {
            target = try parseTuple(simplified: true, extraEndRules: extraEndRules, withNamespace: withNamespace)
        } else {
            target = try parsePrimary(withNamespace: withNamespace)
        }
        if !target.canAssign {
            throw map.locate(TemplateError(.syntax, "can't assign to '\(nodeTypeName(target))'"), at: target.pos)
        }
        return target
    }

    func nodeTypeName(_ e: Expr) -> String {
        switch e {
        case .const: "const"
        case .name: "name"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .getattr: "getattr"
        case .getitem: "getitem"
        case .call: "call"
        case .filter: "filter"
        case .test: "test"
        case .compare: "compare"
        case .concat: "concat"
        case .condExpr: "condexpr"
        case .binary(let op, _, _, _):
            switch op {
            case .add: "add"
            case .sub: "sub"
            case .mul: "mul"
            case .div: "div"
            case .floordiv: "floordiv"
            case .mod: "mod"
            case .pow: "pow"
            }
        case .and: "and"
        case .or: "or"
        case .not: "not"
        case .neg: "neg"
        case .pos: "pos"
        case .slice: "slice"
        case .nsRef: "nsref"
        }
    }

    // MARK: Expressions

    mutating func parseExpression(withCondexpr: Bool = true) throws(TemplateError) -> Expr {
        try enter()
        defer { leave() }
        return withCondexpr ? try parseCondexpr() : try parseOr()
    }

    mutating func parseCondexpr() throws(TemplateError) -> Expr {
        var p = pos(current)
        var expr1 = try parseOr()
        while current.isName("if") {
            next()
            let expr2 = try parseOr()
            var expr3: Expr? = nil
            if current.isName("else") {
                next()
                expr3 = try parseCondexpr()
            }
            expr1 = .condExpr(test: expr2, then: expr1, else: expr3, p)
            p = pos(current)
        }
        return expr1
    }

    mutating func parseOr() throws(TemplateError) -> Expr {
        var p = pos(current)
        var left = try parseAnd()
        while current.isName("or") {
            next()
            let right = try parseAnd()
            left = .or(left, right, p)
            p = pos(current)
        }
        return left
    }

    mutating func parseAnd() throws(TemplateError) -> Expr {
        var p = pos(current)
        var left = try parseNot()
        while current.isName("and") {
            next()
            let right = try parseNot()
            left = .and(left, right, p)
            p = pos(current)
        }
        return left
    }

    mutating func parseNot() throws(TemplateError) -> Expr {
        if current.isName("not") {
            let p = pos(next())
            try enter()
            defer { leave() }
            return .not(try parseNot(), p)
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws(TemplateError) -> Expr {
        var p = pos(current)
        let expr = try parseMath1()
        var ops: [(CompareOperator, Expr)] = []
        while true {
            if case .op(let o) = current.kind, let cmp = compareOp(o) {
                next()
                ops.append((cmp, try parseMath1()))
            } else if current.isName("in") {
                next()
                ops.append((.in, try parseMath1()))
            } else if current.isName("not") && look().isName("in") {
                next()
                next()
                ops.append((.notIn, try parseMath1()))
            } else {
                break
            }
            p = pos(current)
        }
        if ops.isEmpty { return expr }
        return .compare(expr, ops, p)
    }

    func compareOp(_ o: Op) -> CompareOperator? {
        switch o {
        case .eq: .eq
        case .ne: .ne
        case .lt: .lt
        case .lteq: .le
        case .gt: .gt
        case .gteq: .ge
        default: nil
        }
    }

    mutating func parseMath1() throws(TemplateError) -> Expr {
        var p = pos(current)
        var left = try parseConcat()
        while current.isOp(.add) || current.isOp(.sub) {
            let op: Py.BinaryOp = current.isOp(.add) ? .add : .sub
            next()
            let right = try parseConcat()
            left = .binary(op, left, right, p)
            p = pos(current)
        }
        return left
    }

    mutating func parseConcat() throws(TemplateError) -> Expr {
        let p = pos(current)
        var args = [try parseMath2()]
        while current.isOp(.tilde) {
            next()
            args.append(try parseMath2())
        }
        return args.count == 1 ? args[0] : .concat(args, p)
    }

    mutating func parseMath2() throws(TemplateError) -> Expr {
        var p = pos(current)
        var left = try parsePow()
        while true {
            let op: Py.BinaryOp
            if current.isOp(.mul) { op = .mul } else if current.isOp(.div) { op = .div } else if current.isOp(.floordiv) {
                op = .floordiv
            } else if current.isOp(.mod) { op = .mod } else { break }
            next()
            let right = try parsePow()
            left = .binary(op, left, right, p)
            p = pos(current)
        }
        return left
    }

    mutating func parsePow() throws(TemplateError) -> Expr {
        var p = pos(current)
        var left = try parseUnary()
        while current.isOp(.pow) {
            next()
            let right = try parseUnary()
            left = .binary(.pow, left, right, p)
            p = pos(current)
        }
        return left
    }

    mutating func parseUnary(withFilter: Bool = true) throws(TemplateError) -> Expr {
        let p = pos(current)
        var node: Expr
        if current.isOp(.sub) {
            next()
            try enter()
            node = .neg(try parseUnary(withFilter: false), p)
            leave()
        } else if current.isOp(.add) {
            next()
            try enter()
            node = .pos(try parseUnary(withFilter: false), p)
            leave()
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    mutating func parsePrimary(withNamespace: Bool = false) throws(TemplateError) -> Expr {
        let t = current
        let p = pos(t)
        switch t.kind {
        case .name(let n):
            next()
            switch n {
            case "true", "True": return .const(.bool(true), p)
            case "false", "False": return .const(.bool(false), p)
            case "none", "None": return .const(.none, p)
            default:
                if withNamespace && current.isOp(.dot) {
                    next()
                    let attr = try expectAnyName()
                    return .nsRef(n, attr, p)
                }
                return .name(n, p)
            }
        case .string(let s):
            next()
            var buf = s
            while case .string(let more) = current.kind {
                buf += more
                next()
            }
            return .const(.string(buf), p)
        case .integer(let v):
            next()
            return .const(.int(v), p)
        case .float(let v):
            next()
            return .const(.float(v), p)
        case .op(.lparen):
            next()
            try enter()
            defer { leave() }
            let node = try parseTuple(explicitParentheses: true)
            _ = try expectOp(.rparen)
            return node
        case .op(.lbracket):
            return try parseList()
        case .op(.lbrace):
            return try parseDict()
        default:
            throw fail("unexpected '\(t.description)'", t)
        }
    }

    func isTupleEnd(_ extraEndRules: [String]?) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .op(.rparen): return true
        default:
            if let extraEndRules { return currentIsAny(extraEndRules) }
            return false
        }
    }

    mutating func parseTuple(simplified: Bool = false, withCondexpr: Bool = true, extraEndRules: [String]? = nil,
                             explicitParentheses: Bool = false, withNamespace: Bool = false) throws(TemplateError) -> Expr {
        var p = pos(current)
        var args: [Expr] = []
        var isTuple = false
        while true {
            if !args.isEmpty { _ = try expectOp(.comma) }
            if isTupleEnd(extraEndRules) { break }
            if simplified {
                args.append(try parsePrimary(withNamespace: withNamespace))
            } else {
                args.append(try parseExpression(withCondexpr: withCondexpr))
            }
            if current.isOp(.comma) { isTuple = true } else { break }
            p = pos(current)
        }
        if !isTuple {
            if let first = args.first { return first }
            if !explicitParentheses {
                throw fail("Expected an expression, got '\(current.description)'")
            }
        }
        return .tuple(args, p)
    }

    mutating func parseList() throws(TemplateError) -> Expr {
        let t = try expectOp(.lbracket)
        try enter()
        defer { leave() }
        var items: [Expr] = []
        while !current.isOp(.rbracket) {
            if !items.isEmpty { _ = try expectOp(.comma) }
            if current.isOp(.rbracket) { break }
            items.append(try parseExpression())
        }
        _ = try expectOp(.rbracket)
        return .list(items, pos(t))
    }

    mutating func parseDict() throws(TemplateError) -> Expr {
        let t = try expectOp(.lbrace)
        try enter()
        defer { leave() }
        var items: [(Expr, Expr)] = []
        while !current.isOp(.rbrace) {
            if !items.isEmpty { _ = try expectOp(.comma) }
            if current.isOp(.rbrace) { break }
            let key = try parseExpression()
            _ = try expectOp(.colon)
            let value = try parseExpression()
            items.append((key, value))
        }
        _ = try expectOp(.rbrace)
        return .dict(items, pos(t))
    }

    mutating func parsePostfix(_ start: Expr) throws(TemplateError) -> Expr {
        var node = start
        while true {
            if current.isOp(.dot) || current.isOp(.lbracket) {
                node = try parseSubscript(node)
            } else if current.isOp(.lparen) {
                node = try parseCall(node)
            } else {
                break
            }
        }
        return node
    }

    mutating func parseFilterExpr(_ start: Expr) throws(TemplateError) -> Expr {
        var node = start
        while true {
            if current.isOp(.pipe) {
                node = try parseFilter(node)!
            } else if current.isName("is") {
                node = try parseTest(node)
            } else if current.isOp(.lparen) {
                node = try parseCall(node)
            } else {
                break
            }
        }
        return node
    }

    mutating func parseSubscript(_ node: Expr) throws(TemplateError) -> Expr {
        let t = next()
        let p = pos(t)
        if t.isOp(.dot) {
            let attr = current
            next()
            if case .name(let n) = attr.kind { return .getattr(node, n, p) }
            if case .integer(let v) = attr.kind { return .getitem(node, .const(.int(v), pos(attr)), p) }
            throw fail("expected name or number", attr)
        }
        if t.isOp(.lbracket) {
            try enter()
            defer { leave() }
            var args: [Expr] = []
            while !current.isOp(.rbracket) {
                if !args.isEmpty { _ = try expectOp(.comma) }
                args.append(try parseSubscribed())
            }
            _ = try expectOp(.rbracket)
            let arg = args.count == 1 ? args[0] : .tuple(args, p)
            return .getitem(node, arg, p)
        }
        throw fail("expected subscript expression", t)
    }

    mutating func parseSubscribed() throws(TemplateError) -> Expr {
        let p = pos(current)
        var args: [Expr?] = []
        if current.isOp(.colon) {
            next()
            args = [nil]
        } else {
            let node = try parseExpression()
            if !current.isOp(.colon) { return node }
            next()
            args = [node]
        }
        if current.isOp(.colon) {
            args.append(nil)
        } else if !current.isOp(.rbracket) && !current.isOp(.comma) {
            args.append(try parseExpression())
        } else {
            args.append(nil)
        }
        if current.isOp(.colon) {
            next()
            if !current.isOp(.rbracket) && !current.isOp(.comma) {
                args.append(try parseExpression())
            } else {
                args.append(nil)
            }
        } else {
            args.append(nil)
        }
        return .slice(args[0], args[1], args[2], p)
    }

    mutating func parseCallArgs() throws(TemplateError) -> CallArgs {
        let t = try expectOp(.lparen)
        try enter()
        defer { leave() }
        var result = CallArgs()
        var requireComma = false
        func ensure(_ ok: Bool) throws(TemplateError) {
            if !ok { throw fail("invalid syntax for function call expression", t) }
        }
        while !current.isOp(.rparen) {
            if requireComma {
                _ = try expectOp(.comma)
                if current.isOp(.rparen) { break }
            }
            if current.isOp(.mul) {
                try ensure(result.dynArgs == nil && result.dynKwargs == nil)
                next()
                result.dynArgs = try parseExpression()
            } else if current.isOp(.pow) {
                try ensure(result.dynKwargs == nil)
                next()
                result.dynKwargs = try parseExpression()
            } else if case .name(let key) = current.kind, look().isOp(.assign) {
                try ensure(result.dynKwargs == nil)
                next()
                next()
                result.kwargs.append((key, try parseExpression()))
            } else {
                try ensure(result.dynArgs == nil && result.dynKwargs == nil && result.kwargs.isEmpty)
                result.args.append(try parseExpression())
            }
            requireComma = true
        }
        _ = try expectOp(.rparen)
        return result
    }

    mutating func parseCall(_ node: Expr) throws(TemplateError) -> Expr {
        let p = pos(current)
        let args = try parseCallArgs()
        return .call(node, args, p)
    }

    mutating func parseFilter(_ start: Expr?, startInline: Bool = false) throws(TemplateError) -> Expr? {
        var node = start
        var inline = startInline
        while current.isOp(.pipe) || inline {
            if !inline { next() }
            let t = current
            var name = try expectAnyName()
            while current.isOp(.dot) {
                next()
                name += "." + (try expectAnyName())
            }
            let args = current.isOp(.lparen) ? try parseCallArgs() : CallArgs()
            node = .filter(node, name, args, pos(t))
            inline = false
        }
        return node
    }

    mutating func parseTest(_ node: Expr) throws(TemplateError) -> Expr {
        let t = next()
        var negated = false
        if current.isName("not") {
            next()
            negated = true
        }
        var name = try expectAnyName()
        while current.isOp(.dot) {
            next()
            name += "." + (try expectAnyName())
        }
        var args = CallArgs()
        if current.isOp(.lparen) {
            args = try parseCallArgs()
        } else {
            var startsArg = false
            switch current.kind {
            case .name, .string, .integer, .float, .op(.lparen), .op(.lbracket), .op(.lbrace): startsArg = true
            default: break
            }
            if startsArg && !current.isName("else") && !current.isName("or") && !current.isName("and") {
                if current.isName("is") { throw fail("You cannot chain multiple tests with is") }
                var arg = try parsePrimary()
                arg = try parsePostfix(arg)
                args.args = [arg]
            }
        }
        let test = Expr.test(node, name, args, pos(t))
        return negated ? .not(test, pos(t)) : test
    }
}
