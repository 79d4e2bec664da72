// Python's `pprint.pformat` (the `pprint` filter) and `textwrap.wrap` (the `wordwrap` filter).

enum PrettyPrint {
    static let width = 80

    /// `pprint.pformat(v)`: width 80, indent 1, dict keys sorted.
    static func pformat(_ v: Value) throws(TemplateError) -> String {
        var out = ""
        try format(v, &out, indent: 0, allowance: 0, level: 0)
        return out
    }

    /// repr with dict keys sorted (pprint's `_safe_repr`).
    static func safeRepr(_ v: Value, depth: Int = 0) throws(TemplateError) -> String {
        if depth > PyText.maxNesting { throw TemplateError(.recursionLimit, "maximum recursion depth exceeded") }
        switch v {
        case .dict(let d):
            let items = try sortedItems(d)
            return "{" + (try items.map { (k, x) throws(TemplateError) -> String in try safeRepr(k, depth: depth + 1) + ": " + safeRepr(x, depth: depth + 1) }).joined(separator: ", ") + "}"
        case .list(let items):
            return "[" + (try items.map { (x: Value) throws(TemplateError) -> String in try safeRepr(x, depth: depth + 1) }).joined(separator: ", ") + "]"
        case .tuple(let items):
            if items.count == 1 { return "(" + (try safeRepr(items[0], depth: depth + 1)) + ",)" }
            return "(" + (try items.map { (x: Value) throws(TemplateError) -> String in try safeRepr(x, depth: depth + 1) }).joined(separator: ", ") + ")"
        default:
            return try PyText.repr(v)
        }
    }

    static func sortedItems(_ d: Dict) throws(TemplateError) -> [(Value, Value)] {
        let order = (try? Py.sortedIndices(d.keys)) ?? Array(0..<d.count)
        return order.map { (d.keys[$0], d.values[$0]) }
    }

    static func format(_ v: Value, _ out: inout String, indent: Int, allowance: Int, level: Int) throws(TemplateError) {
        let rep = try safeRepr(v)
        let maxWidth = width - indent - allowance
        if PyStr.length(rep) > maxWidth {
            switch v {
            case .dict(let d):
                out += "{"
                if d.count > 0 {
                    let items = try sortedItems(d)
                    let ind = indent + 1
                    for (i, (k, x)) in items.enumerated() {
                        let last = i == items.count - 1
                        let krep = try safeRepr(k)
                        out += krep + ": "
                        try format(x, &out, indent: ind + PyStr.length(krep) + 2, allowance: last ? allowance + 1 : 1, level: level + 1)
                        if !last { out += ",\n" + String(repeating: " ", count: ind) }
                    }
                }
                out += "}"
                return
            case .list(let items):
                out += "["
                try formatItems(items, &out, indent: indent, allowance: allowance + 1, level: level + 1)
                out += "]"
                return
            case .tuple(let items):
                out += "("
                let end = items.count == 1 ? ",)" : ")"
                try formatItems(items, &out, indent: indent, allowance: allowance + end.count, level: level + 1)
                out += end
                return
            case .string(let s):
                try formatString(s, &out, indent: indent, allowance: allowance, level: level + 1)
                return
            default:
                break
            }
        }
        out += rep
    }

    static func formatItems(_ items: [Value], _ out: inout String, indent: Int, allowance: Int, level: Int) throws(TemplateError) {
        let ind = indent + 1
        for (i, x) in items.enumerated() {
            if i > 0 { out += ",\n" + String(repeating: " ", count: ind) }
            let last = i == items.count - 1
            try format(x, &out, indent: ind, allowance: last ? allowance : 1, level: level)
        }
    }

    static func formatString(_ s: String, _ out: inout String, indent indentIn: Int, allowance allowanceIn: Int, level: Int) throws(TemplateError) {
        if s.isEmpty {
            out += try PyText.repr(.string(s))
            return
        }
        var indent = indentIn
        var allowance = allowanceIn
        let lines = PyStr.splitlines(s, keepends: true)
        if level == 1 {
            indent += 1
            allowance += 1
        }
        let maxWidth = width - indent
        var maxWidth1 = maxWidth
        var chunks: [String] = []
        var rep = ""
        for (i, line) in lines.enumerated() {
            rep = try PyText.repr(.string(line))
            if i == lines.count - 1 { maxWidth1 -= allowance }
            if PyStr.length(rep) <= maxWidth1 {
                chunks.append(rep)
                continue
            }
            // Alternating (non-space, space) parts: re.findall(r'\S*\s*', line) minus the empty tail.
            var parts: [String] = []
            let scalars = Array(line.unicodeScalars)
            var j = 0
            while j < scalars.count {
                let start = j
                while j < scalars.count && !PyStr.isSpace(scalars[j].value) { j += 1 }
                while j < scalars.count && PyStr.isSpace(scalars[j].value) { j += 1 }
                parts.append(PyStr.string(scalars[start..<j]))
            }
            var maxWidth2 = maxWidth
            var current = ""
            for (k, part) in parts.enumerated() {
                let candidate = current + part
                if k == parts.count - 1 && i == lines.count - 1 { maxWidth2 -= allowance }
                if PyStr.length(try PyText.repr(.string(candidate))) > maxWidth2 {
                    if !current.isEmpty { chunks.append(try PyText.repr(.string(current))) }
                    current = part
                } else {
                    current = candidate
                }
            }
            if !current.isEmpty { chunks.append(try PyText.repr(.string(current))) }
        }
        if chunks.count == 1 {
            out += rep
            return
        }
        if level == 1 { out += "(" }
        for (i, c) in chunks.enumerated() {
            if i > 0 { out += "\n" + String(repeating: " ", count: indent) }
            out += c
        }
        if level == 1 { out += ")" }
    }
}

enum TextWrap {
    static func isWS(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\u{0B}" || c == "\u{0C}" || c == "\r"
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool { Methods.isLetterCategory(c) }

    /// Splits text into whitespace runs and words (words split after hyphens between letters).
    static func chunks(_ text: String, breakOnHyphens: Bool) -> [[Unicode.Scalar]] {
        let s = Array(text.unicodeScalars)
        var out: [[Unicode.Scalar]] = []
        var i = 0
        while i < s.count {
            let start = i
            if isWS(s[i]) {
                while i < s.count && isWS(s[i]) { i += 1 }
                out.append(Array(s[start..<i]))
                continue
            }
            while i < s.count && !isWS(s[i]) {
                if breakOnHyphens && s[i] == "-" && i - start >= 2 && isLetter(s[i - 1]) && isLetter(s[i - 2])
                    && i + 1 < s.count && isLetter(s[i + 1])
                {
                    i += 1
                    break
                }
                i += 1
            }
            out.append(Array(s[start..<i]))
        }
        return out
    }

    static func wrap(_ text: String, width: Int, breakLongWords: Bool, breakOnHyphens: Bool) -> [String] {
        var stack = Array(chunks(text, breakOnHyphens: breakOnHyphens).reversed())
        var lines: [String] = []
        func isBlank(_ c: [Unicode.Scalar]) -> Bool { c.allSatisfy(isWS) }
        while !stack.isEmpty {
            var cur: [[Unicode.Scalar]] = []
            var curLen = 0
            if !lines.isEmpty, let last = stack.last, isBlank(last) { stack.removeLast() }
            while let c = stack.last {
                if curLen + c.count <= width {
                    cur.append(c)
                    curLen += c.count
                    stack.removeLast()
                } else {
                    break
                }
            }
            if let c = stack.last, c.count > width {
                let spaceLeft = width < 1 ? 1 : width - curLen
                if breakLongWords {
                    var end = spaceLeft
                    if breakOnHyphens && c.count > spaceLeft,
                        let hyphen = c[0..<max(0, spaceLeft)].lastIndex(of: "-"), hyphen > 0,
                        c[0..<hyphen].contains(where: { $0 != "-" })
                    {
                        end = hyphen + 1
                    }
                    cur.append(Array(c[0..<end]))
                    stack[stack.count - 1] = Array(c[end...])
                } else if cur.isEmpty {
                    cur.append(stack.removeLast())
                }
            }
            if let last = cur.last, isBlank(last) {
                curLen -= last.count
                cur.removeLast()
            }
            if !cur.isEmpty { lines.append(PyStr.string(cur.joined())) }
        }
        return lines
    }
}
