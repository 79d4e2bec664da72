// Python semantics of the operators and builtins templates use: truthiness, ==, <, arithmetic
// (true division, floor division and modulo with Python's signs, **), `in`, iteration, len().
// Ints are 64-bit; where Python would grow a big int we raise instead.

enum Py {
    // MARK: Type names and truthiness

    static func typeName(_ v: Value) -> String {
        switch v {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .markup: "Markup"
        case .list: "list"
        case .tuple: "tuple"
        case .dict: "dict"
        case .namespace: "Namespace"
        case .object(let o): o.typeName
        }
    }

    @inline(__always)
    static func truthy(_ v: Value) -> Bool {
        switch v {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .float(let d): d != 0
        case .string(let s), .markup(let s): !s.isEmpty
        case .list(let a), .tuple(let a): !a.isEmpty
        case .dict(let d): !d.isEmpty
        case .namespace: true
        case .object(let o): o.truthy
        }
    }

    /// The error raised when an undefined value is used.
    static func undefinedError(_ info: UndefinedInfo?, _ what: String = "value") -> TemplateError {
        if let info {
            return TemplateError(info.isSecurity ? .security : .undefined, info.message)
        }
        return TemplateError(.undefined, "\(what) is undefined")
    }

    static func overflow() -> TemplateError {
        TemplateError(.arithmetic, "integer overflow (Python ints are unbounded; this implementation uses 64-bit ints)")
    }

    // MARK: Equality and ordering

    static func eq(_ a: Value, _ b: Value) -> Bool { eq(a, b, depth: 0) }

    static func eq(_ a: Value, _ b: Value, depth: Int) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)), (.string(let x), .markup(let y)),
            (.markup(let x), .string(let y)), (.markup(let x), .markup(let y)):
            return pyEqual(x, y)
        case (.int(let x), .int(let y)): return x == y
        case (.none, .none): return true
        case (.undefined, .undefined): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.int(let x), .float(let y)): return cmpIntFloat(x, y) == 0
        case (.float(let x), .int(let y)): return cmpIntFloat(y, x) == 0
        case (.bool(let x), .int(let y)): return (x ? 1 : 0) == y
        case (.int(let x), .bool(let y)): return x == (y ? 1 : 0)
        case (.bool(let x), .float(let y)): return (x ? 1.0 : 0.0) == y
        case (.float(let x), .bool(let y)): return x == (y ? 1.0 : 0.0)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            if x.count != y.count { return false }
            if depth > PyText.maxNesting { return false }
            for i in 0..<x.count where !eq(x[i], y[i], depth: depth + 1) { return false }
            return true
        case (.dict(let x), .dict(let y)):
            if x === y { return true }
            if x.count != y.count { return false }
            if depth > PyText.maxNesting { return false }
            for i in 0..<x.count {
                guard let other = try? y.lookup(x.keys[i]) else { return false }
                if !eq(x.values[i], other, depth: depth + 1) { return false }
            }
            return true
        case (.namespace(let x), .namespace(let y)): return x === y
        case (.object(let x), .object(let y)): return x.equals(y)
        default: return false
        }
    }

    /// Exact comparison of an int with a float: -1, 0, 1, or nil when the float is NaN.
    static func cmpIntFloat(_ i: Int, _ d: Double) -> Int? {
        if d.isNaN { return nil }
        if d >= 9.3e18 { return -1 }
        if d <= -9.3e18 { return 1 }
        let t = d.rounded(.towardZero)
        let ti = Int(t)
        if i < ti { return -1 }
        if i > ti { return 1 }
        let frac = d - t
        return frac > 0 ? -1 : (frac < 0 ? 1 : 0)
    }

    enum CompareOp: String { case lt = "<", le = "<=", gt = ">", ge = ">=" }

    /// Python's rich comparison `a OP b` for the ordering operators.
    static func compare(_ a: Value, _ op: CompareOp, _ b: Value) throws(TemplateError) -> Bool {
        guard let c = try order(a, b, op, depth: 0) else { return false }  // NaN: every ordering is false
        switch op {
        case .lt: return c < 0
        case .le: return c <= 0
        case .gt: return c > 0
        case .ge: return c >= 0
        }
    }

    /// -1/0/1 ordering of two values, nil if unordered (NaN). Throws TypeError for types Python
    /// cannot order.
    static func order(_ a: Value, _ b: Value, _ op: CompareOp, depth: Int) throws(TemplateError) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.undefined(let info), _): throw undefinedError(info)
        case (_, .undefined(let info)): throw undefinedError(info)
        default: break
        }
        if let x = numeric(a), let y = numeric(b) {
            switch (x, y) {
            case (.int(let p), .int(let q)): return p < q ? -1 : (p > q ? 1 : 0)
            case (.int(let p), .float(let q)): return cmpIntFloat(p, q)
            case (.float(let p), .int(let q)): return cmpIntFloat(q, p).map { -$0 }
            case (.float(let p), .float(let q)):
                if p.isNaN || q.isNaN { return nil }
                return p < q ? -1 : (p > q ? 1 : 0)
            default: break
            }
        }
        switch (a, b) {
        case (.string(let x), .string(let y)), (.string(let x), .markup(let y)),
            (.markup(let x), .string(let y)), (.markup(let x), .markup(let y)):
            if pyEqual(x, y) { return 0 }
            return pyLess(x, y) ? -1 : 1
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            if depth > PyText.maxNesting {
                throw TemplateError(.recursionLimit, "maximum recursion depth exceeded in comparison")
            }
            let n = min(x.count, y.count)
            for i in 0..<n where !eq(x[i], y[i], depth: depth + 1) {
                return try order(x[i], y[i], op, depth: depth + 1)
            }
            return x.count < y.count ? -1 : (x.count > y.count ? 1 : 0)
        default:
            throw TemplateError(.type, "'\(op.rawValue)' not supported between instances of '\(typeName(a))' and '\(typeName(b))'")
        }
    }

    /// Bools and ints as ints, floats as floats; nil for non-numbers.
    @inline(__always)
    static func numeric(_ v: Value) -> Value? {
        switch v {
        case .int, .float: v
        case .bool(let b): .int(b ? 1 : 0)
        default: nil
        }
    }

    // MARK: Arithmetic

    enum BinaryOp: String { case add = "+", sub = "-", mul = "*", div = "/", floordiv = "//", mod = "%", pow = "**" }

    static func binary(_ op: BinaryOp, _ a: Value, _ b: Value, limit: Int) throws(TemplateError) -> Value {
        switch op {
        case .add: return try add(a, b, limit: limit)
        case .sub: return try sub(a, b)
        case .mul: return try mul(a, b, limit: limit)
        case .div: return try truediv(a, b)
        case .floordiv: return try floordiv(a, b)
        case .mod: return try mod(a, b, limit: limit)
        case .pow: return try pow(a, b)
        }
    }

    static func unsupported(_ op: BinaryOp, _ a: Value, _ b: Value) -> TemplateError {
        if case .undefined(let info) = a { return undefinedError(info) }
        if case .undefined(let info) = b { return undefinedError(info) }
        return TemplateError(.type, "unsupported operand type(s) for \(op.rawValue): '\(typeName(a))' and '\(typeName(b))'")
    }

    static func checkLength(_ n: Int, _ limit: Int) throws(TemplateError) {
        if n > limit {
            throw TemplateError(.outputLimit, "value of \(n) bytes/items exceeds the budget's output limit (\(limit))")
        }
    }

    static func add(_ a: Value, _ b: Value, limit: Int) throws(TemplateError) -> Value {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            try checkLength(x.utf8.count + y.utf8.count, limit)
            return .string(x + y)
        case (.int(let x), .int(let y)):
            let (r, o) = x.addingReportingOverflow(y)
            if o { throw overflow() }
            return .int(r)
        case (.markup(let x), .string(let y)):
            return .markup(x + Markup.escape(y))
        case (.markup(let x), .markup(let y)):
            return .markup(x + y)
        case (.string(let x), .markup(let y)):
            return .markup(Markup.escape(x) + y)
        case (.list(let x), .list(let y)):
            try checkLength(x.count + y.count, limit)
            return .list(x + y)
        case (.tuple(let x), .tuple(let y)):
            try checkLength(x.count + y.count, limit)
            return .tuple(x + y)
        default:
            if let x = numeric(a), let y = numeric(b) {
                switch (x, y) {
                case (.int(let p), .int(let q)):
                    let (r, o) = p.addingReportingOverflow(q)
                    if o { throw overflow() }
                    return .int(r)
                default: return .float(asDouble(x) + asDouble(y))
                }
            }
            if case .string = a, case .undefined(let info) = b { throw undefinedError(info) }
            if case .string = a {
                throw TemplateError(.type, "can only concatenate str (not \"\(typeName(b))\") to str")
            }
            if case .list = a, !(b.isUndefined) {
                throw TemplateError(.type, "can only concatenate list (not \"\(typeName(b))\") to list")
            }
            throw unsupported(.add, a, b)
        }
    }

    @inline(__always)
    static func asDouble(_ v: Value) -> Double {
        switch v {
        case .int(let i): Double(i)
        case .float(let d): d
        case .bool(let b): b ? 1 : 0
        default: 0
        }
    }

    static func sub(_ a: Value, _ b: Value) throws(TemplateError) -> Value {
        guard let x = numeric(a), let y = numeric(b) else { throw unsupported(.sub, a, b) }
        if case .int(let p) = x, case .int(let q) = y {
            let (r, o) = p.subtractingReportingOverflow(q)
            if o { throw overflow() }
            return .int(r)
        }
        return .float(asDouble(x) - asDouble(y))
    }

    static func mul(_ a: Value, _ b: Value, limit: Int) throws(TemplateError) -> Value {
        if let x = numeric(a), let y = numeric(b) {
            if case .int(let p) = x, case .int(let q) = y {
                let (r, o) = p.multipliedReportingOverflow(by: q)
                if o { throw overflow() }
                return .int(r)
            }
            return .float(asDouble(x) * asDouble(y))
        }
        func repeatCount(_ v: Value) -> Int? {
            switch v {
            case .int(let i): i
            case .bool(let b): b ? 1 : 0
            default: nil
            }
        }
        switch (a, b) {
        case (.string(let s), _), (.markup(let s), _):
            if let n = repeatCount(b) {
                let r = try repeatString(s, n, limit: limit)
                if case .markup = a { return .markup(r) }
                return .string(r)
            }
        case (_, .string(let s)), (_, .markup(let s)):
            if let n = repeatCount(a) {
                let r = try repeatString(s, n, limit: limit)
                if case .markup = b { return .markup(r) }
                return .string(r)
            }
        case (.list(let items), _), (.tuple(let items), _):
            if let n = repeatCount(b) {
                let r = try repeatArray(items, n, limit: limit)
                if case .tuple = a { return .tuple(r) }
                return .list(r)
            }
        case (_, .list(let items)), (_, .tuple(let items)):
            if let n = repeatCount(a) {
                let r = try repeatArray(items, n, limit: limit)
                if case .tuple = b { return .tuple(r) }
                return .list(r)
            }
        default: break
        }
        if (a.stringValue != nil || b.stringValue != nil), numeric(a) == nil || numeric(b) == nil,
            !a.isUndefined, !b.isUndefined
        {
            let other = a.stringValue != nil ? b : a
            throw TemplateError(.type, "can't multiply sequence by non-int of type '\(typeName(other))'")
        }
        throw unsupported(.mul, a, b)
    }

    static func repeatString(_ s: String, _ n: Int, limit: Int) throws(TemplateError) -> String {
        if n <= 0 || s.isEmpty { return "" }
        let (total, o) = s.utf8.count.multipliedReportingOverflow(by: n)
        if o { throw TemplateError(.outputLimit, "repeated string exceeds the budget's output limit (\(limit))") }
        try checkLength(total, limit)
        return String(repeating: s, count: n)
    }

    static func repeatArray(_ a: [Value], _ n: Int, limit: Int) throws(TemplateError) -> [Value] {
        if n <= 0 || a.isEmpty { return [] }
        let (total, o) = a.count.multipliedReportingOverflow(by: n)
        if o { throw TemplateError(.outputLimit, "repeated list exceeds the budget's output limit (\(limit))") }
        try checkLength(total, limit)
        var r: [Value] = []
        r.reserveCapacity(total)
        for _ in 0..<n { r.append(contentsOf: a) }
        return r
    }

    static func truediv(_ a: Value, _ b: Value) throws(TemplateError) -> Value {
        guard let x = numeric(a), let y = numeric(b) else { throw unsupported(.div, a, b) }
        let q = asDouble(y)
        if q == 0 {
            if case .int = x, case .int = y { throw TemplateError(.arithmetic, "division by zero") }
            throw TemplateError(.arithmetic, "float division by zero")
        }
        if case .int(let p) = x, case .int(let qi) = y {
            // Python divides ints exactly and rounds once; doubles are exact below 2^53.
            if p.magnitude < (1 << 53) && qi.magnitude < (1 << 53) { return .float(Double(p) / Double(qi)) }
        }
        return .float(asDouble(x) / q)
    }

    static func floordiv(_ a: Value, _ b: Value) throws(TemplateError) -> Value {
        guard let x = numeric(a), let y = numeric(b) else { throw unsupported(.floordiv, a, b) }
        if case .int(let p) = x, case .int(let q) = y {
            if q == 0 { throw TemplateError(.arithmetic, "integer division or modulo by zero") }
            if p == Int.min && q == -1 { throw overflow() }
            var d = p / q
            if (p % q != 0) && ((p < 0) != (q < 0)) { d -= 1 }
            return .int(d)
        }
        let (fd, _) = try floatDivMod(asDouble(x), asDouble(y), "float floor division by zero")
        return .float(fd)
    }

    static func floatDivMod(_ vx: Double, _ wx: Double, _ zeroMessage: String) throws(TemplateError) -> (Double, Double) {
        if wx == 0 { throw TemplateError(.arithmetic, zeroMessage) }
        var mod = vx.truncatingRemainder(dividingBy: wx)
        var div = (vx - mod) / wx
        if mod != 0 {
            if (wx < 0) != (mod < 0) {
                mod += wx
                div -= 1.0
            }
        } else {
            mod = wx.sign == .minus ? -0.0 : 0.0
        }
        var floordiv: Double
        if div != 0 {
            floordiv = div.rounded(.down)
            if div - floordiv > 0.5 { floordiv += 1.0 }
        } else {
            floordiv = (vx / wx).sign == .minus ? -0.0 : 0.0
        }
        return (floordiv, mod)
    }

    static func mod(_ a: Value, _ b: Value, limit: Int) throws(TemplateError) -> Value {
        switch a {
        case .string(let s): return .string(try PercentFormat.format(s, b, limit: limit, escape: false))
        case .markup(let s): return .markup(try PercentFormat.format(s, b, limit: limit, escape: true))
        default: break
        }
        guard let x = numeric(a), let y = numeric(b) else { throw unsupported(.mod, a, b) }
        if case .int(let p) = x, case .int(let q) = y {
            if q == 0 { throw TemplateError(.arithmetic, "integer division or modulo by zero") }
            if q == -1 { return .int(0) }
            var r = p % q
            if r != 0 && ((r < 0) != (q < 0)) { r += q }
            return .int(r)
        }
        let (_, m) = try floatDivMod(asDouble(x), asDouble(y), "float modulo")
        return .float(m)
    }

    static func pow(_ a: Value, _ b: Value) throws(TemplateError) -> Value {
        guard let x = numeric(a), let y = numeric(b) else { throw unsupported(.pow, a, b) }
        if case .int(let base) = x, case .int(let exp) = y {
            if exp >= 0 {
                var result = 1
                var bb = base
                var e = exp
                while e > 0 {
                    if e & 1 == 1 {
                        let (r, o) = result.multipliedReportingOverflow(by: bb)
                        if o { throw overflow() }
                        result = r
                    }
                    e >>= 1
                    if e > 0 {
                        let (sq, o) = bb.multipliedReportingOverflow(by: bb)
                        if o { throw overflow() }
                        bb = sq
                    }
                }
                return .int(result)
            }
            if base == 0 { throw TemplateError(.arithmetic, "0.0 cannot be raised to a negative power") }
            return .float(powDouble(Double(base), Double(exp)))
        }
        let p = asDouble(x), q = asDouble(y)
        if p == 0 && q < 0 { throw TemplateError(.arithmetic, "0.0 cannot be raised to a negative power") }
        if p < 0 && q.isFinite && q.rounded(.towardZero) != q {
            throw TemplateError(.unsupported, "a negative number raised to a fractional power is complex in Python; complex numbers are not supported")
        }
        let r = powDouble(p, q)
        if r.isInfinite && p.isFinite && q.isFinite {
            throw TemplateError(.arithmetic, "(34, 'Numerical result out of range')")
        }
        return .float(r)
    }

    static func powDouble(_ x: Double, _ y: Double) -> Double { cPow(x, y) }

    static func negate(_ a: Value) throws(TemplateError) -> Value {
        switch a {
        case .int(let i):
            if i == Int.min { throw overflow() }
            return .int(-i)
        case .float(let d): return .float(-d)
        case .bool(let b): return .int(b ? -1 : 0)
        case .undefined(let info): throw undefinedError(info)
        default: throw TemplateError(.type, "bad operand type for unary -: '\(typeName(a))'")
        }
    }

    static func positive(_ a: Value) throws(TemplateError) -> Value {
        switch a {
        case .int, .float: return a
        case .bool(let b): return .int(b ? 1 : 0)
        case .undefined(let info): throw undefinedError(info)
        default: throw TemplateError(.type, "bad operand type for unary +: '\(typeName(a))'")
        }
    }

    // MARK: Containers

    /// `item in container`.
    static func contains(_ container: Value, _ item: Value) throws(TemplateError) -> Bool {
        switch container {
        case .string(let s), .markup(let s):
            guard let needle = item.stringValue else {
                if case .undefined(let info) = item { throw undefinedError(info) }
                throw TemplateError(.type, "'in <string>' requires string as left operand, not \(typeName(item))")
            }
            return needle.isEmpty || PyStr.find(s, needle) != nil
        case .list(let items), .tuple(let items):
            for x in items where eq(x, item) { return true }
            return false
        case .dict(let d):
            return try d.lookup(item) != nil
        case .undefined:
            return false
        case .object(let o):
            if let view = o as? DictView, view.kind == .keys { return try view.dict.lookup(item) != nil }
            if let items = o.iterate() {
                for x in items where eq(x, item) { return true }
                return false
            }
            throw TemplateError(.type, "argument of type '\(typeName(container))' is not iterable")
        default:
            throw TemplateError(.type, "argument of type '\(typeName(container))' is not iterable")
        }
    }

    /// The items `for x in v` visits.
    static func iterate(_ v: Value) throws(TemplateError) -> [Value] {
        switch v {
        case .list(let items), .tuple(let items): return items
        case .dict(let d): return d.keys
        case .string(let s), .markup(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .object(let o):
            if let items = o.iterate() { return items }
            throw TemplateError(.type, "'\(typeName(v))' object is not iterable")
        default: throw TemplateError(.type, "'\(typeName(v))' object is not iterable")
        }
    }

    static func isIterable(_ v: Value) -> Bool {
        switch v {
        case .list, .tuple, .dict, .string, .markup, .undefined: true
        case .object(let o): o.isIterable
        default: false
        }
    }

    static func isObjectIterable(_ v: Value) -> Bool {
        if case .object(let o) = v { return o.isIterable }
        return false
    }

    /// `len(v)`.
    static func length(_ v: Value) throws(TemplateError) -> Int {
        switch v {
        case .string(let s), .markup(let s): return PyStr.length(s)
        case .list(let a), .tuple(let a): return a.count
        case .dict(let d): return d.count
        case .undefined: return 0
        case .object(let o):
            if let n = o.length() { return n }
            throw TemplateError(.type, "object of type '\(typeName(v))' has no len()")
        default: throw TemplateError(.type, "object of type '\(typeName(v))' has no len()")
        }
    }

    // MARK: Sorting

    /// A stable merge sort with a throwing "less than" (Python's `sorted` is stable and only uses `<`).
    static func stableSort<T>(_ items: [T], _ less: (T, T) throws(TemplateError) -> Bool) throws(TemplateError) -> [T] {
        if items.count < 2 { return items }
        var a = items
        var tmp = items
        var width = 1
        let n = a.count
        // Insertion-sort small runs first.
        let run = 8
        var start = 0
        while start < n {
            let end = min(start + run, n)
            var i = start + 1
            while i < end {
                let x = a[i]
                var j = i - 1
                while j >= start {
                    if try less(x, a[j]) {
                        a[j + 1] = a[j]
                        j -= 1
                    } else {
                        break
                    }
                }
                a[j + 1] = x
                i += 1
            }
            start = end
        }
        width = run
        while width < n {
            var lo = 0
            while lo < n {
                let mid = min(lo + width, n)
                let hi = min(lo + 2 * width, n)
                var i = lo, j = mid, k = lo
                while i < mid && j < hi {
                    if try less(a[j], a[i]) {
                        tmp[k] = a[j]
                        j += 1
                    } else {
                        tmp[k] = a[i]
                        i += 1
                    }
                    k += 1
                }
                while i < mid {
                    tmp[k] = a[i]
                    i += 1
                    k += 1
                }
                while j < hi {
                    tmp[k] = a[j]
                    j += 1
                    k += 1
                }
                lo = hi
            }
            swap(&a, &tmp)
            width *= 2
        }
        return a
    }

    /// Indices of `keys` in sorted order (for `sort_keys`).
    static func sortedIndices(_ keys: [Value]) throws(TemplateError) -> [Int] {
        try stableSort(Array(keys.indices)) { (i: Int, j: Int) throws(TemplateError) -> Bool in
            try compare(keys[i], .lt, keys[j])
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// C `pow()`, which CPython's float `**` uses.
@inline(__always)
func cPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
