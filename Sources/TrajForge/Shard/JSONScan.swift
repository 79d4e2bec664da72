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
            // Token-id arrays: integers and commas with nothing between them.
            guard skipIntegerWords() else { return false }
            while true {
                switch integers() {
                case .closed: return true
                case .invalid: return false
                case .other: break
                }
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

        /// Inside an array, at an element: takes elements while they are integers directly followed
        /// by `,` (eight bytes at a time). `.closed` when one is followed by `]`, `.invalid` when the
        /// text cannot be valid, `.other` when `i` is at an element for the general path (a
        /// fraction, an exponent, whitespace, another type, or near the end of the text).
        @inline(__always)
        mutating func integers() -> IntegerRun {
            while i &+ 9 <= n {
                var j = i
                if p[j] == UInt8(ascii: "-") { j &+= 1 }
                let first = p[j]
                if first &- UInt8(ascii: "0") >= 10 { return .other }
                // Bytes from j on that are digits: the first byte that is not.
                let w = UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self)
                let a = (w & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030
                let b = ((w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030
                let x = a | b
                let nonzero = (x | ((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F)) & 0x8080_8080_8080_8080
                if nonzero == 0 { return .other }  // eight digits or more: the general path
                let digits = nonzero.trailingZeroBitCount >> 3
                if first == UInt8(ascii: "0") && digits > 1 { return .invalid }
                j &+= digits
                let next = p[j]
                if next == UInt8(ascii: ",") {
                    i = j &+ 1
                } else if next == UInt8(ascii: "]") {
                    i = j &+ 1
                    depth -= 1
                    return .closed
                } else {
                    return .other
                }
            }
            return .other
        }

        enum IntegerRun { case closed, invalid, other }

        /// At an array's first element: skips whole 8-byte words of integer text (`12,-3,456,`),
        /// checking it as it goes, up to the word where another byte occurs; leaves `i` at the
        /// start of the element that word is in. False when the skipped text cannot be valid.
        /// The words are checked by byte class (digit, `0`, `,`, `-`) against the byte before:
        /// no `,` after `,` or `-`, no `-` after a digit or `-`, no digit after a leading `0`.
        @inline(__always)
        mutating func skipIntegerWords() -> Bool {
            let highs: UInt64 = 0x8080_8080_8080_8080
            let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
            /// High bit of each byte that is zero.
            @inline(__always) func zeros(_ x: UInt64) -> UInt64 { ~(((x & lows) &+ lows) | x) & highs }
            var at = i
            var elementStart = i
            // The byte before the first word, as if a comma (flags in bit 7).
            var lastC: UInt64 = 0x80
            var lastM: UInt64 = 0
            var lastD: UInt64 = 0
            var lastStartZ: UInt64 = 0
            while at &+ 8 <= n {
                let w = UnsafeRawPointer(p + at).loadUnaligned(as: UInt64.self)
                let d = zeros(((w & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030) | (((w & 0x0F0F_0F0F_0F0F_0F0F) &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0))
                let c = zeros(w ^ 0x2C2C_2C2C_2C2C_2C2C)
                let m = zeros(w ^ 0x2D2D_2D2D_2D2D_2D2D)
                if d | c | m != highs { break }
                let z = zeros(w ^ 0x3030_3030_3030_3030)
                let pc = c << 8 | lastC
                let pm = m << 8 | lastM
                let pd = d << 8 | lastD
                let startZ = z & (pc | pm)
                let bad = (c & (pc | pm)) | (m & (pd | pm)) | (d & (startZ << 8 | lastStartZ))
                if bad != 0 { return false }
                if c != 0 { elementStart = at &+ ((63 &- c.leadingZeroBitCount) >> 3) &+ 1 }
                lastC = c >> 56
                lastM = m >> 56
                lastD = d >> 56
                lastStartZ = startZ >> 56
                at &+= 8
            }
            i = elementStart
            return true
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
