import ByteJSON

// A validating JSON scanner: accepts exactly what `JSON.parse` accepts (RFC 8259 grammar, strict
// UTF-8, paired \u surrogates, at most 1000 levels) without building values, several times faster.
// Shards that store records as they came (JSONL lines, WebDataset .json members) only need to know
// that a record is a valid JSON object and whether it spans lines; the tree is built only when a
// field is needed (keys, members, MDS columns) or to report where a bad record breaks.
// `ShardTests.scannerAgreesWithTheParser` checks the agreement on mutated records.

struct JSONScan {
    /// The text is one valid JSON value.
    var valid: Bool
    /// It is an object.
    var isObject: Bool
    /// Whitespace between the value's tokens holds a line break (raw ones cannot occur inside strings).
    var hasLineBreak: Bool

    static func scan(_ bytes: UnsafeRawBufferPointer) -> JSONScan {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return JSONScan(valid: false, isObject: false, hasLineBreak: false) }
        var s = Scanner(p: base.assumingMemoryBound(to: UInt8.self), n: bytes.count)
        s.whitespace()
        s.sawBreak = false  // only breaks inside the value count (a CRLF line's \r does not)
        let isObject = s.i < s.n && s.p[s.i] == UInt8(ascii: "{")
        var valid = s.value()
        let interiorBreak = s.sawBreak
        s.whitespace()
        valid = valid && s.i == s.n
        if valid && s.sawHigh {
            // The standard library's validator (what the parser's strings go through) runs at GB/s.
            valid = String(validating: UnsafeBufferPointer(start: s.p, count: s.n), as: UTF8.self) != nil
        }
        return JSONScan(valid: valid, isObject: isObject && valid, hasLineBreak: interiorBreak)
    }

    static func scan(_ bytes: ArraySlice<UInt8>) -> JSONScan {
        bytes.withUnsafeBytes { scan($0) }
    }

    struct Scanner {
        let p: UnsafePointer<UInt8>
        let n: Int
        var i = 0
        var depth = 0
        var sawHigh = false
        var sawBreak = false
        static let maxDepth = 1000

        @inline(__always)
        mutating func whitespace() {
            while i < n {
                let c = p[i]
                if c == 0x20 || c == 0x09 {
                    i += 1
                } else if c == 0x0A || c == 0x0D {
                    sawBreak = true
                    i += 1
                } else {
                    return
                }
            }
        }

        mutating func value() -> Bool {
            guard i < n else { return false }
            switch p[i] {
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "{"): return object()
            case UInt8(ascii: "["): return array()
            case UInt8(ascii: "t"): return literal(0x74, 0x72, 0x75, 0x65)
            case UInt8(ascii: "f"): return literal5()
            case UInt8(ascii: "n"): return literal(0x6E, 0x75, 0x6C, 0x6C)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return false
            }
        }

        @inline(__always)
        mutating func literal(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> Bool {
            guard i + 4 <= n, p[i] == a, p[i + 1] == b, p[i + 2] == c, p[i + 3] == d else { return false }
            i += 4
            return true
        }

        mutating func literal5() -> Bool {
            guard i + 5 <= n, p[i] == 0x66, p[i + 1] == 0x61, p[i + 2] == 0x6C, p[i + 3] == 0x73, p[i + 4] == 0x65 else { return false }
            i += 5
            return true
        }

        mutating func number() -> Bool {
            if p[i] == UInt8(ascii: "-") { i += 1 }
            guard i < n else { return false }
            if p[i] == UInt8(ascii: "0") {
                i += 1
            } else if p[i] &- UInt8(ascii: "1") < 9 {
                i += 1
                while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            } else {
                return false
            }
            if i < n, p[i] == UInt8(ascii: ".") {
                i += 1
                let s = i
                while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
                if i == s { return false }
            }
            if i < n, p[i] | 0x20 == UInt8(ascii: "e") {
                i += 1
                if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
                let s = i
                while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
                if i == s { return false }
            }
            return true
        }

        /// Moves to the first `"`, `\` or control byte at or after `i` (eight bytes at a time).
        @inline(__always)
        mutating func skipPlain() {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            var high: UInt64 = 0
            while i &+ 8 <= n {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let q = w ^ 0x2222_2222_2222_2222
                let b = w ^ 0x5C5C_5C5C_5C5C_5C5C
                let hit = ((q &- ones) & ~q | (b &- ones) & ~b | (w &- 0x2020_2020_2020_2020) & ~w) & highs
                if hit != 0 {
                    let k = hit.trailingZeroBitCount >> 3
                    // Bytes before the hit may be non-ASCII.
                    if k > 0 { high |= w << (64 - 8 * UInt64(k)) }
                    i &+= k
                    if high & highs != 0 { sawHigh = true }
                    return
                }
                high |= w
                i &+= 8
            }
            if high & highs != 0 { sawHigh = true }
            while i < n {
                let c = p[i]
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { return }
                if c >= 0x80 { sawHigh = true }
                i += 1
            }
        }

        mutating func string() -> Bool {
            i += 1
            while true {
                skipPlain()
                guard i < n else { return false }
                let c = p[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return true
                }
                if c < 0x20 { return false }
                // A backslash.
                guard i + 1 < n else { return false }
                let e = p[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    guard let v = hex4(i) else { return false }
                    i += 4
                    if v >= 0xD800, v < 0xDC00 {
                        guard i + 6 <= n, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u"), let low = hex4(i + 2),
                              low >= 0xDC00, low < 0xE000
                        else { return false }
                        i += 6
                    } else if v >= 0xDC00, v < 0xE000 {
                        return false
                    }
                default:
                    return false
                }
            }
        }

        @inline(__always)
        func hex4(_ k: Int) -> UInt32? {
            guard k + 4 <= n else { return nil }
            var v: UInt32 = 0
            for d in 0..<4 {
                let c = p[k + d]
                let h: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): h = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): h = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): h = c - UInt8(ascii: "A") + 10
                default: return nil
                }
                v = v << 4 | UInt32(h)
            }
            return v
        }

        mutating func array() -> Bool {
            depth += 1
            if depth > Scanner.maxDepth { return false }
            i += 1
            whitespace()
            if i < n, p[i] == UInt8(ascii: "]") {
                i += 1
                depth -= 1
                return true
            }
            while true {
                whitespace()
                guard value() else { return false }
                whitespace()
                guard i < n else { return false }
                if p[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if p[i] == UInt8(ascii: "]") {
                    i += 1
                    depth -= 1
                    return true
                }
                return false
            }
        }

        mutating func object() -> Bool {
            depth += 1
            if depth > Scanner.maxDepth { return false }
            i += 1
            whitespace()
            if i < n, p[i] == UInt8(ascii: "}") {
                i += 1
                depth -= 1
                return true
            }
            while true {
                whitespace()
                guard i < n, p[i] == UInt8(ascii: "\""), string() else { return false }
                whitespace()
                guard i < n, p[i] == UInt8(ascii: ":") else { return false }
                i += 1
                whitespace()
                guard value() else { return false }
                whitespace()
                guard i < n else { return false }
                if p[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if p[i] == UInt8(ascii: "}") {
                    i += 1
                    depth -= 1
                    return true
                }
                return false
            }
        }
    }
}
