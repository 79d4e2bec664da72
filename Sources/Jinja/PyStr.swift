// Python `str` operations on Swift strings. Python strings are sequences of code points, so
// lengths, indices and slices count Unicode scalars, and comparisons are by code point.

enum PyStr {
    /// `len(s)`: the number of code points.
    @inline(__always)
    static func length(_ s: String) -> Int {
        var n = 0
        for b in s.utf8 where b & 0xC0 != 0x80 { n += 1 }
        return n
    }

    /// Python's whitespace (`str.isspace()` / `str.split()` / `str.strip()` with no argument).
    @inline(__always)
    static func isSpace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Line boundaries recognised by `str.splitlines()`.
    static func isLineBreak(_ c: UInt32) -> Bool {
        switch c {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029: true
        default: false
        }
    }

    // MARK: Strip

    /// `s.strip(chars)` / `lstrip` / `rstrip`; `chars == nil` strips whitespace.
    static func strip(_ s: String, _ chars: String?, left: Bool = true, right: Bool = true) -> String {
        let set = chars.map { Array($0.unicodeScalars.map(\.value)) }
        func strippable(_ c: UInt32) -> Bool {
            if let set { return set.contains(c) }
            return isSpace(c)
        }
        let view = s.unicodeScalars
        var start = view.startIndex
        var end = view.endIndex
        if left {
            while start < end, strippable(view[start].value) { start = view.index(after: start) }
        }
        if right {
            while end > start {
                let prev = view.index(before: end)
                if strippable(view[prev].value) { end = prev } else { break }
            }
        }
        if start == view.startIndex && end == view.endIndex { return s }
        return String(view[start..<end])
    }

    // MARK: Search

    /// Byte offset of the first occurrence of `needle` in `hay` at or after byte `from`.
    static func find(_ hay: String, _ needle: String, from: Int = 0, to: Int? = nil) -> Int? {
        let h = Array(hay.utf8), n = Array(needle.utf8)
        return findBytes(h, n, from: from, to: to ?? h.count)
    }

    static func findBytes(_ h: [UInt8], _ n: [UInt8], from: Int, to: Int) -> Int? {
        if n.isEmpty { return from <= to ? from : nil }
        if n.count > to - from { return nil }
        let first = n[0]
        var i = from
        let last = to - n.count
        while i <= last {
            if h[i] == first {
                var j = 1
                while j < n.count && h[i + j] == n[j] { j += 1 }
                if j == n.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func rfindBytes(_ h: [UInt8], _ n: [UInt8], from: Int, to: Int) -> Int? {
        if n.isEmpty { return from <= to ? to : nil }
        if n.count > to - from { return nil }
        var i = to - n.count
        while i >= from {
            var j = 0
            while j < n.count && h[i + j] == n[j] { j += 1 }
            if j == n.count { return i }
            i -= 1
        }
        return nil
    }

    // MARK: Split

    /// `s.split(sep, maxsplit)`.
    static func split(_ s: String, _ sep: String?, _ maxsplit: Int) throws(TemplateError) -> [String] {
        guard let sep else { return splitWhitespace(s, maxsplit) }
        if sep.isEmpty { throw TemplateError(.value, "empty separator") }
        let h = Array(s.utf8), n = Array(sep.utf8)
        var parts: [String] = []
        var start = 0
        var splits = 0
        while maxsplit < 0 || splits < maxsplit, let i = findBytes(h, n, from: start, to: h.count) {
            parts.append(String(decoding: h[start..<i], as: UTF8.self))
            start = i + n.count
            splits += 1
        }
        parts.append(String(decoding: h[start...], as: UTF8.self))
        return parts
    }

    /// `s.rsplit(sep, maxsplit)`.
    static func rsplit(_ s: String, _ sep: String?, _ maxsplit: Int) throws(TemplateError) -> [String] {
        guard let sep else { return rsplitWhitespace(s, maxsplit) }
        if sep.isEmpty { throw TemplateError(.value, "empty separator") }
        let h = Array(s.utf8), n = Array(sep.utf8)
        var parts: [String] = []
        var end = h.count
        var splits = 0
        while maxsplit < 0 || splits < maxsplit, let i = rfindBytes(h, n, from: 0, to: end) {
            parts.append(String(decoding: h[(i + n.count)..<end], as: UTF8.self))
            end = i
            splits += 1
        }
        parts.append(String(decoding: h[0..<end], as: UTF8.self))
        return parts.reversed()
    }

    static func splitWhitespace(_ s: String, _ maxsplit: Int) -> [String] {
        let scalars = Array(s.unicodeScalars)
        var parts: [String] = []
        var i = 0
        let n = scalars.count
        var splits = 0
        while i < n {
            while i < n && isSpace(scalars[i].value) { i += 1 }
            if i >= n { break }
            if maxsplit >= 0 && splits >= maxsplit {
                parts.append(string(scalars[i..<n]))
                return parts
            }
            let start = i
            while i < n && !isSpace(scalars[i].value) { i += 1 }
            parts.append(string(scalars[start..<i]))
            splits += 1
        }
        return parts
    }

    static func rsplitWhitespace(_ s: String, _ maxsplit: Int) -> [String] {
        let scalars = Array(s.unicodeScalars)
        var parts: [String] = []
        var i = scalars.count
        var splits = 0
        while i > 0 {
            while i > 0 && isSpace(scalars[i - 1].value) { i -= 1 }
            if i <= 0 { break }
            if maxsplit >= 0 && splits >= maxsplit {
                parts.append(string(scalars[0..<i]))
                return parts.reversed()
            }
            let end = i
            while i > 0 && !isSpace(scalars[i - 1].value) { i -= 1 }
            parts.append(string(scalars[i..<end]))
            splits += 1
        }
        return parts.reversed()
    }

    /// `s.splitlines(keepends)`.
    static func splitlines(_ s: String, keepends: Bool = false) -> [String] {
        let scalars = Array(s.unicodeScalars)
        var lines: [String] = []
        var i = 0
        var start = 0
        let n = scalars.count
        while i < n {
            let c = scalars[i].value
            if isLineBreak(c) {
                var eol = i + 1
                if c == 0x0D && i + 1 < n && scalars[i + 1].value == 0x0A { eol = i + 2 }
                lines.append(string(scalars[start..<(keepends ? eol : i)]))
                start = eol
                i = eol
            } else {
                i += 1
            }
        }
        if start < n { lines.append(string(scalars[start..<n])) }
        return lines
    }

    @inline(__always)
    static func string<C: Collection>(_ scalars: C) -> String where C.Element == Unicode.Scalar {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    // MARK: Case

    static func isCased(_ c: Unicode.Scalar) -> Bool { c.properties.isCased }

    static func upper(_ s: String) -> String { s.uppercased() }
    static func lower(_ s: String) -> String { s.lowercased() }

    /// `str.capitalize()`: first character title-cased, the rest lower-cased.
    static func capitalize(_ s: String) -> String {
        var it = s.unicodeScalars.makeIterator()
        guard let first = it.next() else { return s }
        var out = first.properties.titlecaseMapping
        var rest = String.UnicodeScalarView()
        while let c = it.next() { rest.append(c) }
        out += String(rest).lowercased()
        return out
    }

    /// `str.title()`: title-case after an uncased character, lower-case after a cased one.
    static func title(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s.unicodeScalars {
            out += previousCased ? c.properties.lowercaseMapping : c.properties.titlecaseMapping
            previousCased = isCased(c)
        }
        return out
    }

    static func swapcase(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c.properties.isUppercase { out += c.properties.lowercaseMapping } else if c.properties.isLowercase {
                out += c.properties.uppercaseMapping
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func isLower(_ s: String) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            if c.properties.isUppercase || c.properties.generalCategory == .titlecaseLetter { return false }
            if c.properties.isLowercase { cased = true }
        }
        return cased
    }

    static func isUpper(_ s: String) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            if c.properties.isLowercase || c.properties.generalCategory == .titlecaseLetter { return false }
            if c.properties.isUppercase { cased = true }
        }
        return cased
    }

    static func isTitle(_ s: String) -> Bool {
        var cased = false
        var previousCased = false
        for c in s.unicodeScalars {
            let p = c.properties
            if p.isUppercase || p.generalCategory == .titlecaseLetter {
                if previousCased { return false }
                previousCased = true
                cased = true
            } else if p.isLowercase {
                if !previousCased { return false }
                previousCased = true
                cased = true
            } else {
                previousCased = false
            }
        }
        return cased
    }

    // MARK: Padding

    static func pad(_ s: String, left: Int, right: Int, fill: String) -> String {
        if left <= 0 && right <= 0 { return s }
        return String(repeating: fill, count: max(0, left)) + s + String(repeating: fill, count: max(0, right))
    }

    /// `s.center(width, fillchar)` with CPython's odd-margin rule.
    static func center(_ s: String, _ width: Int, _ fill: String = " ") -> String {
        let len = length(s)
        if width <= len { return s }
        let marg = width - len
        let left = marg / 2 + (marg & width & 1)
        return pad(s, left: left, right: marg - left, fill: fill)
    }

    // MARK: Replace

    /// `s.replace(old, new, count)`.
    static func replace(_ s: String, _ old: String, _ new: String, _ count: Int) -> String {
        if count == 0 { return s }
        if old.isEmpty {
            var out = ""
            var n = 0
            if count < 0 || n < count {
                out += new
                n += 1
            }
            for c in s.unicodeScalars {
                out.unicodeScalars.append(c)
                if count < 0 || n < count {
                    out += new
                    n += 1
                }
            }
            return out
        }
        let h = Array(s.utf8), o = Array(old.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(h.count)
        var start = 0
        var n = 0
        while count < 0 || n < count, let i = findBytes(h, o, from: start, to: h.count) {
            out.append(contentsOf: h[start..<i])
            out.append(contentsOf: new.utf8)
            start = i + o.count
            n += 1
        }
        if n == 0 { return s }
        out.append(contentsOf: h[start...])
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Indexing

    /// Python index normalisation for `s[i]` over `count` items; nil when out of range.
    @inline(__always)
    static func normalizeIndex(_ i: Int, _ count: Int) -> Int? {
        let j = i < 0 ? i + count : i
        return (j >= 0 && j < count) ? j : nil
    }

    /// Python's `slice.indices(length)`: clamped start, stop and step.
    static func sliceIndices(_ start: Int?, _ stop: Int?, _ step: Int?, _ length: Int) throws(TemplateError) -> (Int, Int, Int) {
        let step = step ?? 1
        if step == 0 { throw TemplateError(.value, "slice step cannot be zero") }
        func clamp(_ v: Int?, _ dflt: Int, _ lower: Int, _ upper: Int) -> Int {
            guard var v else { return dflt }
            if v < 0 {
                v += length
                if v < lower { v = lower }
            } else if v > upper {
                v = upper
            }
            return v
        }
        if step > 0 {
            return (clamp(start, 0, 0, length), clamp(stop, length, 0, length), step)
        }
        return (clamp(start, length - 1, -1, length - 1), clamp(stop, -1, -1, length - 1), step)
    }

    /// The positions a slice selects.
    static func slicePositions(_ start: Int?, _ stop: Int?, _ step: Int?, _ length: Int) throws(TemplateError) -> [Int] {
        let (a, b, c) = try sliceIndices(start, stop, step, length)
        var out: [Int] = []
        if c > 0 {
            var i = a
            while i < b {
                out.append(i)
                i += c
            }
        } else {
            var i = a
            while i > b {
                out.append(i)
                i += c
            }
        }
        return out
    }

    /// Code-point offset of a byte offset in `s`.
    static func scalarOffset(_ s: String, byteOffset: Int) -> Int {
        var n = 0
        var i = 0
        for b in s.utf8 {
            if i >= byteOffset { break }
            if b & 0xC0 != 0x80 { n += 1 }
            i += 1
        }
        return n
    }

    /// Byte offset of a code-point offset in `s` (clamped to the end).
    static func byteOffset(_ s: String, scalarOffset: Int) -> Int {
        if scalarOffset <= 0 { return 0 }
        var n = 0
        var i = 0
        for b in s.utf8 {
            if b & 0xC0 != 0x80 {
                if n == scalarOffset { return i }
                n += 1
            }
            i += 1
        }
        return i
    }
}

/// markupsafe's escaping.
enum Markup {
    static func escape(_ s: String) -> String {
        var needs = false
        for b in s.utf8 where b == 0x26 || b == 0x3C || b == 0x3E || b == 0x22 || b == 0x27 {
            needs = true
            break
        }
        if !needs { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 16)
        for b in s.utf8 {
            switch b {
            case 0x26: out.append(contentsOf: "&amp;".utf8)
            case 0x3C: out.append(contentsOf: "&lt;".utf8)
            case 0x3E: out.append(contentsOf: "&gt;".utf8)
            case 0x22: out.append(contentsOf: "&#34;".utf8)
            case 0x27: out.append(contentsOf: "&#39;".utf8)
            default: out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `markupsafe.escape(v)`: Markup stays as is; anything else is `str()`-ed and escaped.
    static func escapeValue(_ v: Value) throws(TemplateError) -> Value {
        if case .markup = v { return v }
        return .markup(escape(try PyText.str(v)))
    }
}
