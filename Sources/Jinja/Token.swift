// Tokens produced by the lexer, mirroring jinja2's token types.

enum TokenKind: Equatable, Sendable {
    case data(String)
    case variableBegin, variableEnd
    case blockBegin, blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(Op)
    case eof
}

/// Operators and punctuation inside tags.
enum Op: String, Sendable {
    case add = "+", sub = "-", div = "/", floordiv = "//", mul = "*", mod = "%", pow = "**"
    case tilde = "~", lbracket = "[", rbracket = "]", lparen = "(", rparen = ")"
    case lbrace = "{", rbrace = "}", eq = "==", ne = "!=", gt = ">", gteq = ">=", lt = "<", lteq = "<="
    case assign = "=", dot = ".", colon = ":", pipe = "|", comma = ",", semicolon = ";"
}

struct Token: Sendable {
    var kind: TokenKind
    /// Byte offset of the token in the (newline-normalized) source.
    var offset: Int

    func isName(_ n: String) -> Bool {
        if case .name(let v) = kind { return v == n }
        return false
    }

    func isOp(_ o: Op) -> Bool {
        if case .op(let v) = kind { return v == o }
        return false
    }

    var name: String? {
        if case .name(let v) = kind { return v }
        return nil
    }

    /// jinja2's `describe_token`, used in syntax error messages.
    var description: String {
        switch kind {
        case .data: "template data / text"
        case .variableBegin: "begin of print statement"
        case .variableEnd: "end of print statement"
        case .blockBegin: "begin of statement block"
        case .blockEnd: "end of statement block"
        case .name(let n): n
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .op(let o): o.rawValue
        case .eof: "end of template"
        }
    }
}
