// The lexer: jinja2's `Lexer.tokeniter` for the HF configuration (default delimiters,
// trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, newlines normalized to \n).
// Whitespace control: `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`/`-}}`/`-#}` all
// whitespace after it; `+` disables lstrip/trim for that side.

struct Lexer {
    let src: [UInt8]
    let map: SourceMap
    var pos = 0
    var tokens: [Token] = []
    /// Whether the previous match ended with a newline (jinja's `line_starting`).
    var lineStarting = true
    var balance: [UInt8] = []

    /// Normalizes newlines and drops one trailing newline, as jinja does before lexing.
    static func normalize(_ source: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(source.utf8.count)
        var it = source.utf8.makeIterator()
        var pendingCR = false
        while let b = it.next() {
            if pendingCR {
                pendingCR = false
                out.append(0x0A)
                if b == 0x0A { continue }
            }
            if b == 0x0D {
                pendingCR = true
            } else {
                out.append(b)
            }
        }
        if pendingCR { out.append(0x0A) }
        if out.last == 0x0A { out.removeLast() }
        return out
    }

    init(normalized: [UInt8], map: SourceMap) {
        self.src = normalized
        self.map = map
    }

    func error(_ message: String, at offset: Int) -> TemplateError {
        map.locate(TemplateError(.syntax, message), at: SourcePos(offset))
    }

    // MARK: Root state

    mutating func tokenize() throws(TemplateError) -> [Token] {
        while pos < src.count {
            guard let (tagStart, kind, sign) = findTag(from: pos) else {
                tokens.append(Token(kind: .data(string(pos, src.count)), offset: pos))
                pos = src.count
                break
            }
            var textEnd = tagStart
            let textStart = pos
            if sign == UInt8(ascii: "-") {
                textEnd = rstripEnd(textStart, tagStart)
            } else if sign != UInt8(ascii: "+") && kind != .variable {
                // lstrip_blocks: drop spaces between the last newline and the tag.
                var lineStart = tagStart
                while lineStart > textStart && src[lineStart - 1] != 0x0A { lineStart -= 1 }
                if lineStart > textStart || lineStarting {
                    if lineStart < tagStart && allWhitespace(lineStart, tagStart) { textEnd = lineStart }
                }
            }
            if textEnd > textStart {
                tokens.append(Token(kind: .data(string(textStart, textEnd)), offset: textStart))
            }
            pos = tagStart + 2 + (sign == 0 ? 0 : 1)
            lineStarting = false
            switch kind {
            case .comment: try lexComment(start: tagStart)
            case .block:
                if let rawEnd = matchRawBegin(at: tagStart) {
                    pos = rawEnd
                    lineStarting = pos > 0 && src[pos - 1] == 0x0A
                    try lexRaw(start: tagStart)
                } else {
                    tokens.append(Token(kind: .blockBegin, offset: tagStart))
                    try lexInsideTag(block: true)
                }
            case .variable:
                tokens.append(Token(kind: .variableBegin, offset: tagStart))
                try lexInsideTag(block: false)
            }
        }
        tokens.append(Token(kind: .eof, offset: src.count))
        return tokens
    }

    enum TagKind { case comment, block, variable }

    /// The next `{{`, `{%` or `{#` at or after `from`, with its whitespace-control sign (0 if none).
    func findTag(from: Int) -> (Int, TagKind, UInt8)? {
        var i = from
        while i + 1 < src.count {
            if src[i] == UInt8(ascii: "{") {
                let c = src[i + 1]
                let kind: TagKind?
                switch c {
                case UInt8(ascii: "{"): kind = .variable
                case UInt8(ascii: "%"): kind = .block
                case UInt8(ascii: "#"): kind = .comment
                default: kind = nil
                }
                if let kind {
                    var sign: UInt8 = 0
                    if i + 2 < src.count, src[i + 2] == UInt8(ascii: "-") || src[i + 2] == UInt8(ascii: "+") {
                        sign = src[i + 2]
                    }
                    return (i, kind, sign)
                }
            }
            i += 1
        }
        return nil
    }

    /// `{%(-|+|)\s*raw\s*(-%}\s*|%})` at `at`: the offset after it, or nil.
    func matchRawBegin(at: Int) -> Int? {
        var i = at + 2
        if i < src.count, src[i] == UInt8(ascii: "-") || src[i] == UInt8(ascii: "+") { i += 1 }
        i = skipWhitespace(i)
        guard i + 3 <= src.count, src[i] == UInt8(ascii: "r"), src[i + 1] == UInt8(ascii: "a"), src[i + 2] == UInt8(ascii: "w") else {
            return nil
        }
        i = skipWhitespace(i + 3)
        if i + 2 < src.count, src[i] == UInt8(ascii: "-"), src[i + 1] == UInt8(ascii: "%"), src[i + 2] == UInt8(ascii: "}") {
            return skipWhitespace(i + 3)
        }
        if i + 1 < src.count, src[i] == UInt8(ascii: "%"), src[i + 1] == UInt8(ascii: "}") { return i + 2 }
        return nil
    }

    mutating func lexRaw(start: Int) throws(TemplateError) {
        // (.*?)({%(-|+|)\s*endraw\s*(+%}|-%}\s*|%}\n?))
        var i = pos
        while i + 1 < src.count {
            if src[i] == UInt8(ascii: "{") && src[i + 1] == UInt8(ascii: "%") {
                var j = i + 2
                var sign: UInt8 = 0
                if j < src.count, src[j] == UInt8(ascii: "-") || src[j] == UInt8(ascii: "+") {
                    sign = src[j]
                    j += 1
                }
                j = skipWhitespace(j)
                if j + 6 <= src.count, Array(src[j..<(j + 6)]) == Array("endraw".utf8) {
                    var k = skipWhitespace(j + 6)
                    var end: Int? = nil
                    if k + 2 < src.count, src[k] == UInt8(ascii: "+"), src[k + 1] == UInt8(ascii: "%"), src[k + 2] == UInt8(ascii: "}") {
                        end = k + 3
                    } else if k + 2 < src.count, src[k] == UInt8(ascii: "-"), src[k + 1] == UInt8(ascii: "%"), src[k + 2] == UInt8(ascii: "}") {
                        end = skipWhitespace(k + 3)
                    } else if k + 1 < src.count, src[k] == UInt8(ascii: "%"), src[k + 1] == UInt8(ascii: "}") {
                        k += 2
                        if k < src.count && src[k] == 0x0A { k += 1 }
                        end = k
                    }
                    if let end {
                        var textEnd = i
                        if sign == UInt8(ascii: "-") {
                            textEnd = rstripEnd(pos, i)
                        } else if sign != UInt8(ascii: "+") {
                            var lineStart = i
                            while lineStart > pos && src[lineStart - 1] != 0x0A { lineStart -= 1 }
                            if lineStart > pos || lineStarting {
                                if lineStart < i && allWhitespace(lineStart, i) { textEnd = lineStart }
                            }
                        }
                        if textEnd > pos { tokens.append(Token(kind: .data(string(pos, textEnd)), offset: pos)) }
                        pos = end
                        lineStarting = src[end - 1] == 0x0A
                        return
                    }
                }
            }
            i += 1
        }
        throw error("Missing end of raw directive", at: start)
    }

    mutating func lexComment(start: Int) throws(TemplateError) {
        var i = pos
        while i < src.count {
            let b = src[i]
            if (b == UInt8(ascii: "+") || b == UInt8(ascii: "-")) && i + 2 < src.count
                && src[i + 1] == UInt8(ascii: "#") && src[i + 2] == UInt8(ascii: "}")
            {
                pos = b == UInt8(ascii: "-") ? skipWhitespace(i + 3) : i + 3
                lineStarting = src[pos - 1] == 0x0A
                return
            }
            if b == UInt8(ascii: "#") && i + 1 < src.count && src[i + 1] == UInt8(ascii: "}") {
                pos = i + 2
                if pos < src.count && src[pos] == 0x0A { pos += 1 }
                lineStarting = src[pos - 1] == 0x0A
                return
            }
            i += 1
        }
        throw error("Missing end of comment tag", at: start)
    }

    // MARK: Inside {% %} and {{ }}

    mutating func lexInsideTag(block: Bool) throws(TemplateError) {
        while true {
            if pos >= src.count {
                return  // the parser reports the missing end tag
            }
            if balance.isEmpty, let end = matchTagEnd(block: block) {
                tokens.append(Token(kind: block ? .blockEnd : .variableEnd, offset: pos))
                pos = end
                lineStarting = src[end - 1] == 0x0A
                return
            }
            let b = src[pos]
            if isWhitespaceAt(pos) {
                let e = skipWhitespace(pos)
                lineStarting = src[e - 1] == 0x0A
                pos = e
                continue
            }
            lineStarting = false
            if let (tok, end) = try lexNumber() {
                tokens.append(Token(kind: tok, offset: pos))
                pos = end
                continue
            }
            if isNameStart(pos) {
                let start = pos
                var i = pos
                while i < src.count, let (c, len) = scalar(at: i), isNameContinue(c) { i += len }
                tokens.append(Token(kind: .name(string(start, i)), offset: start))
                pos = i
                continue
            }
            if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
                let start = pos
                var i = pos + 1
                var closed = false
                while i < src.count {
                    if src[i] == UInt8(ascii: "\\") {
                        i += 2
                        continue
                    }
                    if src[i] == b {
                        closed = true
                        break
                    }
                    i += 1
                }
                guard closed, i < src.count else {
                    throw error("unexpected char \(pyCharRepr(b)) at \(scalarIndex(start))", at: start)
                }
                let value = try decodeStringLiteral(Array(src[(start + 1)..<i]), at: start)
                tokens.append(Token(kind: .string(value), offset: start))
                pos = i + 1
                continue
            }
            if let (op, len) = matchOperator() {
                switch op {
                case .lbrace: balance.append(UInt8(ascii: "}"))
                case .lparen: balance.append(UInt8(ascii: ")"))
                case .lbracket: balance.append(UInt8(ascii: "]"))
                case .rbrace, .rparen, .rbracket:
                    let ch = UInt8(op.rawValue.utf8.first!)
                    guard let expected = balance.popLast() else {
                        throw error("unexpected '\(op.rawValue)'", at: pos)
                    }
                    if expected != ch {
                        throw error("unexpected '\(op.rawValue)', expected '\(Character(Unicode.Scalar(expected)))'", at: pos)
                    }
                default: break
                }
                tokens.append(Token(kind: .op(op), offset: pos))
                pos += len
                continue
            }
            let (c, _) = scalar(at: pos) ?? (Unicode.Scalar(b), 1)
            throw error("unexpected char \(charRepr(c)) at \(scalarIndex(pos))", at: pos)
        }
    }

    /// `+%}`, `-%}\s*`, `%}\n?` (block) or `-}}\s*`, `}}` (variable) at `pos`: the end offset.
    func matchTagEnd(block: Bool) -> Int? {
        let close = block ? UInt8(ascii: "%") : UInt8(ascii: "}")
        let b = src[pos]
        if block && b == UInt8(ascii: "+") && pos + 2 < src.count && src[pos + 1] == close && src[pos + 2] == UInt8(ascii: "}") {
            return pos + 3
        }
        if b == UInt8(ascii: "-") && pos + 2 < src.count && src[pos + 1] == close && src[pos + 2] == UInt8(ascii: "}") {
            return skipWhitespace(pos + 3)
        }
        if b == close && pos + 1 < src.count && src[pos + 1] == UInt8(ascii: "}") {
            var e = pos + 2
            if block && e < src.count && src[e] == 0x0A { e += 1 }
            return e
        }
        return nil
    }

    func matchOperator() -> (Op, Int)? {
        let b = src[pos]
        let n: UInt8 = pos + 1 < src.count ? src[pos + 1] : 0
        switch b {
        case UInt8(ascii: "*"): return n == UInt8(ascii: "*") ? (.pow, 2) : (.mul, 1)
        case UInt8(ascii: "/"): return n == UInt8(ascii: "/") ? (.floordiv, 2) : (.div, 1)
        case UInt8(ascii: "="): return n == UInt8(ascii: "=") ? (.eq, 2) : (.assign, 1)
        case UInt8(ascii: "!"): return n == UInt8(ascii: "=") ? (.ne, 2) : nil
        case UInt8(ascii: ">"): return n == UInt8(ascii: "=") ? (.gteq, 2) : (.gt, 1)
        case UInt8(ascii: "<"): return n == UInt8(ascii: "=") ? (.lteq, 2) : (.lt, 1)
        case UInt8(ascii: "+"): return (.add, 1)
        case UInt8(ascii: "-"): return (.sub, 1)
        case UInt8(ascii: "%"): return (.mod, 1)
        case UInt8(ascii: "~"): return (.tilde, 1)
        case UInt8(ascii: "["): return (.lbracket, 1)
        case UInt8(ascii: "]"): return (.rbracket, 1)
        case UInt8(ascii: "("): return (.lparen, 1)
        case UInt8(ascii: ")"): return (.rparen, 1)
        case UInt8(ascii: "{"): return (.lbrace, 1)
        case UInt8(ascii: "}"): return (.rbrace, 1)
        case UInt8(ascii: "."): return (.dot, 1)
        case UInt8(ascii: ":"): return (.colon, 1)
        case UInt8(ascii: "|"): return (.pipe, 1)
        case UInt8(ascii: ","): return (.comma, 1)
        case UInt8(ascii: ";"): return (.semicolon, 1)
        default: return nil
        }
    }

    // MARK: Numbers

    @inline(__always)
    func isDigit(_ i: Int) -> Bool { i < src.count && src[i] >= 0x30 && src[i] <= 0x39 }

    /// Digits possibly separated by single underscores: `(\d+_)*\d+`. Returns the end or nil.
    func digitRun(_ i: Int) -> Int? {
        guard isDigit(i) else { return nil }
        var j = i
        while true {
            while isDigit(j) { j += 1 }
            if j < src.count && src[j] == UInt8(ascii: "_") && isDigit(j + 1) {
                j += 1
                continue
            }
            return j
        }
    }

    func lexNumber() throws(TemplateError) -> (TokenKind, Int)? {
        guard isDigit(pos) else { return nil }
        // float: (?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+\-]?(\d+_)*\d+|\.(\d+_)*\d+)
        if !(pos > 0 && src[pos - 1] == UInt8(ascii: ".")), let intEnd = digitRun(pos) {
            var j = intEnd
            var fracEnd: Int? = nil
            if j < src.count && src[j] == UInt8(ascii: "."), let f = digitRun(j + 1) { fracEnd = f }
            var expEnd: Int? = nil
            let afterFrac = fracEnd ?? j
            if afterFrac < src.count && (src[afterFrac] | 0x20) == UInt8(ascii: "e") {
                var k = afterFrac + 1
                if k < src.count && (src[k] == UInt8(ascii: "+") || src[k] == UInt8(ascii: "-")) { k += 1 }
                if let e = digitRun(k) { expEnd = e }
            }
            if let expEnd {
                j = expEnd
            } else if let fracEnd {
                j = fracEnd
            } else {
                j = -1
            }
            if j > 0 {
                let text = string(pos, j).replacingUnderscores()
                guard let d = Double(text) else { throw error("invalid float literal", at: pos) }
                return (.float(d), j)
            }
        }
        // integer: 0b.., 0o.., 0x.., [1-9](_?\d)*, 0(_?0)*
        if src[pos] == UInt8(ascii: "0"), pos + 1 < src.count {
            let p = src[pos + 1] | 0x20
            let radix: Int? = p == UInt8(ascii: "b") ? 2 : p == UInt8(ascii: "o") ? 8 : p == UInt8(ascii: "x") ? 16 : nil
            if let radix {
                var j = pos + 2
                var digits = ""
                while j < src.count {
                    var k = j
                    if src[k] == UInt8(ascii: "_") { k += 1 }
                    guard k < src.count, let v = hexValue(src[k]), v < radix else { break }
                    digits.append(Character(Unicode.Scalar(src[k])))
                    j = k + 1
                }
                if !digits.isEmpty {
                    guard let v = Int(digits, radix: radix) else { throw error("integer literal too large (64-bit ints only)", at: pos) }
                    return (.integer(v), j)
                }
            }
        }
        var j = pos
        var digits = ""
        if src[pos] == UInt8(ascii: "0") {
            j += 1
            while j < src.count {
                var k = j
                if src[k] == UInt8(ascii: "_") { k += 1 }
                guard k < src.count, src[k] == UInt8(ascii: "0") else { break }
                j = k + 1
            }
            return (.integer(0), j)
        }
        while j < src.count {
            var k = j
            if src[k] == UInt8(ascii: "_") && j > pos { k += 1 }
            guard isDigit(k) else { break }
            digits.append(Character(Unicode.Scalar(src[k])))
            j = k + 1
        }
        guard let v = Int(digits) else { throw error("integer literal too large (64-bit ints only)", at: pos) }
        return (.integer(v), j)
    }

    func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: Int(b - 0x30)
        case 0x61...0x66: Int(b - 0x61 + 10)
        case 0x41...0x46: Int(b - 0x41 + 10)
        default: nil
        }
    }

    // MARK: Strings

    /// A string literal's content as Python decodes it: `.encode("ascii", "backslashreplace")
    /// .decode("unicode-escape")`.
    func decodeStringLiteral(_ raw: [UInt8], at offset: Int) throws(TemplateError) -> String {
        if !raw.contains(UInt8(ascii: "\\")) { return String(decoding: raw, as: UTF8.self) }
        // Step 1: non-ASCII characters become \x.. / \u.... / \U........ escapes.
        var ascii: [UInt8] = []
        for c in String(decoding: raw, as: UTF8.self).unicodeScalars {
            if c.value < 0x80 {
                ascii.append(UInt8(c.value))
            } else if c.value <= 0xFF {
                PyText.appendHexEscape(c.value, prefix: "\\x", width: 2, to: &ascii)
            } else if c.value <= 0xFFFF {
                PyText.appendHexEscape(c.value, prefix: "\\u", width: 4, to: &ascii)
            } else {
                PyText.appendHexEscape(c.value, prefix: "\\U", width: 8, to: &ascii)
            }
        }
        // Step 2: unicode-escape decoding.
        var out = String.UnicodeScalarView()
        var i = 0
        func fail(_ m: String) -> TemplateError { error(m, at: offset) }
        func hex(_ count: Int, _ what: String) throws(TemplateError) -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<count {
                guard i + 1 + k < ascii.count, let h = hexValue(ascii[i + 1 + k]) else {
                    throw fail("truncated \(what) escape")
                }
                v = v * 16 + UInt32(h)
            }
            i += 1 + count
            return v
        }
        func append(_ v: UInt32) throws(TemplateError) {
            guard let s = Unicode.Scalar(v) else {
                throw TemplateError(.unsupported, "string literal contains a lone surrogate or invalid code point (\\u\(String(v, radix: 16)))")
            }
            out.append(s)
        }
        while i < ascii.count {
            let b = ascii[i]
            if b != UInt8(ascii: "\\") {
                out.append(Unicode.Scalar(b))
                i += 1
                continue
            }
            i += 1
            guard i < ascii.count else { throw fail("\\ at end of string") }
            let e = ascii[i]
            switch e {
            case 0x0A: i += 1
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""):
                out.append(Unicode.Scalar(e))
                i += 1
            case UInt8(ascii: "a"): out.append("\u{07}"); i += 1
            case UInt8(ascii: "b"): out.append("\u{08}"); i += 1
            case UInt8(ascii: "f"): out.append("\u{0C}"); i += 1
            case UInt8(ascii: "n"): out.append("\n"); i += 1
            case UInt8(ascii: "r"): out.append("\r"); i += 1
            case UInt8(ascii: "t"): out.append("\t"); i += 1
            case UInt8(ascii: "v"): out.append("\u{0B}"); i += 1
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var v: UInt32 = 0
                var n = 0
                while n < 3 && i < ascii.count && ascii[i] >= 0x30 && ascii[i] <= 0x37 {
                    v = v * 8 + UInt32(ascii[i] - 0x30)
                    i += 1
                    n += 1
                }
                try append(v)
            case UInt8(ascii: "x"):
                let v = try hex(2, "\\xXX")
                try append(v)
            case UInt8(ascii: "u"):
                let v = try hex(4, "\\uXXXX")
                try append(v)
            case UInt8(ascii: "U"):
                let v = try hex(8, "\\UXXXXXXXX")
                guard v <= 0x10FFFF else { throw fail("illegal Unicode character") }
                try append(v)
            case UInt8(ascii: "N"):
                throw TemplateError(.unsupported, "\\N{...} escapes in string literals are not supported")
            default:
                out.append("\\")
            }
        }
        return String(out)
    }

    // MARK: Helpers

    func string(_ a: Int, _ b: Int) -> String { String(decoding: src[a..<b], as: UTF8.self) }

    /// Decodes the scalar starting at byte `i`.
    func scalar(at i: Int) -> (Unicode.Scalar, Int)? {
        guard i < src.count else { return nil }
        let b0 = src[i]
        if b0 < 0x80 { return (Unicode.Scalar(b0), 1) }
        var len = 0
        var v: UInt32 = 0
        if b0 & 0xE0 == 0xC0 {
            len = 2
            v = UInt32(b0 & 0x1F)
        } else if b0 & 0xF0 == 0xE0 {
            len = 3
            v = UInt32(b0 & 0x0F)
        } else {
            len = 4
            v = UInt32(b0 & 0x07)
        }
        guard i + len <= src.count else { return nil }
        for k in 1..<len { v = (v << 6) | UInt32(src[i + k] & 0x3F) }
        guard let s = Unicode.Scalar(v) else { return nil }
        return (s, len)
    }

    /// The scalar ending just before byte `end`.
    func scalar(before end: Int) -> (Unicode.Scalar, Int)? {
        var i = end - 1
        while i > 0 && src[i] & 0xC0 == 0x80 { i -= 1 }
        guard i >= 0, let (s, len) = scalar(at: i) else { return nil }
        return (s, len)
    }

    func isWhitespaceAt(_ i: Int) -> Bool {
        guard let (c, _) = scalar(at: i) else { return false }
        return PyStr.isSpace(c.value)
    }

    func skipWhitespace(_ from: Int) -> Int {
        var i = from
        while i < src.count, let (c, len) = scalar(at: i), PyStr.isSpace(c.value) { i += len }
        return i
    }

    /// Python's `text.rstrip()` on src[start..<end]: the new end.
    func rstripEnd(_ start: Int, _ end: Int) -> Int {
        var e = end
        while e > start, let (c, len) = scalar(before: e), PyStr.isSpace(c.value) { e -= len }
        return max(e, start)
    }

    func allWhitespace(_ a: Int, _ b: Int) -> Bool {
        var i = a
        while i < b {
            guard let (c, len) = scalar(at: i), PyStr.isSpace(c.value) else { return false }
            i += len
        }
        return true
    }

    func isNameStart(_ i: Int) -> Bool {
        guard let (c, _) = scalar(at: i) else { return false }
        if c.value < 0x80 {
            let b = UInt8(c.value)
            return (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == UInt8(ascii: "_")
        }
        return c.properties.isXIDStart
    }

    func isNameContinue(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 {
            let b = UInt8(c.value)
            return (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_")
        }
        return c.properties.isXIDContinue
    }

    func scalarIndex(_ byteOffset: Int) -> Int {
        var n = 0
        for i in 0..<min(byteOffset, src.count) where src[i] & 0xC0 != 0x80 { n += 1 }
        return n
    }

    func pyCharRepr(_ b: UInt8) -> String { charRepr(Unicode.Scalar(b)) }

    func charRepr(_ c: Unicode.Scalar) -> String {
        var out: [UInt8] = []
        PyText.appendStringRepr(String(Character(c)), to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

private extension String {
    func replacingUnderscores() -> String {
        var s = self
        s.removeAll { $0 == "_" }
        return s
    }
}
