// Python's float printing and rounding, digit for digit: `repr()` (shortest round-trip digits,
// fixed notation for decimal exponents in [-4, 16)), and the correctly rounded fixed / exponent /
// general formats behind `'%.2f' % x`, `'{:g}'.format(x)` and `round(x, n)`.

enum PyFloat {
    /// `repr(x)` / `str(x)`: `1.0`, `0.1`, `1e+16`, `1e-05`, `inf`, `nan`, `-0.0`.
    static func repr(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        if x == 0 { return x.sign == .minus ? "-0.0" : "0.0" }
        let (digits, decpt) = shortestDigits(abs(x))
        var out = x < 0 ? "-" : ""
        if decpt > -4 && decpt <= 16 {
            out += fixedLayout(digits, decpt, minFraction: 1)
        } else {
            out += expLayout(digits, decpt - 1, alwaysPoint: false)
        }
        return out
    }

    /// Shortest round-trip decimal digits of a finite positive `x`: |x| = 0.DIGITS × 10^decpt.
    /// Swift's `description` produces the same shortest digits as Python's dtoa mode 0; only the
    /// layout differs, so we re-read it.
    static func shortestDigits(_ x: Double) -> (digits: [UInt8], decpt: Int) {
        let text = x.description
        var digits: [UInt8] = []
        var intDigits = 0
        var seenPoint = false
        var exponent = 0
        var it = text.utf8.makeIterator()
        while let c = it.next() {
            if c >= 0x30 && c <= 0x39 {
                digits.append(c - 0x30)
                if !seenPoint { intDigits += 1 }
            } else if c == UInt8(ascii: ".") {
                seenPoint = true
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                var sign = 1
                var value = 0
                while let d = it.next() {
                    if d == UInt8(ascii: "-") { sign = -1 } else if d == UInt8(ascii: "+") {} else {
                        value = value * 10 + Int(d - 0x30)
                    }
                }
                exponent = sign * value
            }
        }
        var decpt = intDigits + exponent
        var start = 0
        while start < digits.count - 1 && digits[start] == 0 {
            start += 1
            decpt -= 1
        }
        var end = digits.count
        while end > start + 1 && digits[end - 1] == 0 { end -= 1 }
        return (Array(digits[start..<end]), decpt)
    }

    /// Digits (values 0-9) laid out in fixed notation: value = 0.DIGITS × 10^decpt, with at least
    /// `minFraction` fraction digits (padding with zeros) and a point when minFraction > 0.
    static func fixedLayout(_ digits: [UInt8], _ decpt: Int, minFraction: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(digits.count + 8)
        if decpt <= 0 {
            out.append(0x30)
            var frac = 0
            if minFraction > 0 || !digits.isEmpty {
                out.append(UInt8(ascii: "."))
                for _ in 0 ..< -decpt {
                    out.append(0x30)
                    frac += 1
                }
                for d in digits {
                    out.append(d + 0x30)
                    frac += 1
                }
            }
            while frac < minFraction {
                out.append(0x30)
                frac += 1
            }
        } else {
            for i in 0..<decpt { out.append(i < digits.count ? digits[i] + 0x30 : 0x30) }
            var frac = 0
            if digits.count > decpt || minFraction > 0 {
                out.append(UInt8(ascii: "."))
                if digits.count > decpt {
                    for d in digits[decpt...] {
                        out.append(d + 0x30)
                        frac += 1
                    }
                }
                while frac < minFraction {
                    out.append(0x30)
                    frac += 1
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `d.ddde+XX` with the given exponent (at least two exponent digits).
    static func expLayout(_ digits: [UInt8], _ exp: Int, alwaysPoint: Bool, minFraction: Int = 0, upper: Bool = false) -> String {
        var out: [UInt8] = []
        out.append((digits.first ?? 0) + 0x30)
        var frac = 0
        if digits.count > 1 || alwaysPoint || minFraction > 0 {
            out.append(UInt8(ascii: "."))
            for d in digits.dropFirst() {
                out.append(d + 0x30)
                frac += 1
            }
            while frac < minFraction {
                out.append(0x30)
                frac += 1
            }
        }
        out.append(upper ? UInt8(ascii: "E") : UInt8(ascii: "e"))
        out.append(exp < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let mag = String(abs(exp))
        if mag.utf8.count < 2 { out.append(0x30) }
        out.append(contentsOf: mag.utf8)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Exact decimal expansion

    /// The exact decimal value of a finite positive double: x = 0.DIGITS × 10^decpt (no trailing zeros).
    static func exactDigits(_ x: Double) -> (digits: [UInt8], decpt: Int) {
        precondition(x.isFinite && x > 0)
        let bits = x.bitPattern
        let rawExp = Int((bits >> 52) & 0x7FF)
        var mantissa = bits & ((1 << 52) - 1)
        var e2: Int
        if rawExp == 0 {
            e2 = -1074
        } else {
            mantissa |= 1 << 52
            e2 = rawExp - 1075
        }
        // Strip factors of two to keep the numbers small.
        while mantissa & 1 == 0 && e2 < 0 {
            mantissa >>= 1
            e2 += 1
        }
        var n = BigUInt(mantissa)
        var fractionDigits = 0
        if e2 >= 0 {
            n.shiftLeft(e2)
        } else {
            // m × 2^e2 = m × 5^(-e2) / 10^(-e2)
            var k = -e2
            while k >= 13 {
                n.multiply(by: 1_220_703_125)  // 5^13
                k -= 13
            }
            var p: UInt32 = 1
            for _ in 0..<k { p *= 5 }
            n.multiply(by: p)
            fractionDigits = -e2
        }
        var digits = n.decimalDigits()
        let decpt = digits.count - fractionDigits
        while digits.count > 1 && digits.last == 0 { digits.removeLast() }
        return (digits, decpt)
    }

    /// Rounds exact digits (value 0.DIGITS × 10^decpt) to keep `keep` digits (may be ≤ 0), half to
    /// even. Returns new digits (without trailing zeros; empty means zero) and decpt.
    static func roundDigits(_ digits: [UInt8], _ decpt: Int, keep: Int) -> ([UInt8], Int) {
        if keep >= digits.count { return (digits, decpt) }
        if keep < 0 { return ([], decpt) }
        var kept = Array(digits[0..<keep])
        let next = digits[keep]
        var roundUp = false
        if next > 5 {
            roundUp = true
        } else if next == 5 {
            let rest = digits[(keep + 1)...].contains { $0 != 0 }
            if rest {
                roundUp = true
            } else {
                let last = kept.last ?? 0
                roundUp = last % 2 == 1
            }
        }
        var newDecpt = decpt
        if roundUp {
            var i = kept.count - 1
            while i >= 0 {
                if kept[i] == 9 {
                    kept[i] = 0
                    i -= 1
                } else {
                    kept[i] += 1
                    break
                }
            }
            if i < 0 {
                kept.insert(1, at: 0)
                newDecpt += 1
            }
        }
        while let l = kept.last, l == 0 { kept.removeLast() }
        return (kept, newDecpt)
    }

    /// `'%.{precision}f' % x` for finite x, without sign handling (x ≥ 0).
    static func fixed(_ x: Double, precision: Int) -> String {
        if x == 0 { return fixedLayout([], 1, minFraction: precision).dropPointIfNoFraction(precision) }
        let (d, p) = exactDigits(x)
        let (r, rp) = roundDigits(d, p, keep: p + precision)
        if r.isEmpty { return fixedLayout([], 1, minFraction: precision).dropPointIfNoFraction(precision) }
        return fixedLayout(r, rp, minFraction: precision).dropPointIfNoFraction(precision)
    }

    /// `'%.{precision}e' % x` for finite x ≥ 0.
    static func exponent(_ x: Double, precision: Int, upper: Bool, alternate: Bool = false) -> String {
        if x == 0 { return expLayout([0], 0, alwaysPoint: alternate, minFraction: precision, upper: upper) }
        let (d, p) = exactDigits(x)
        var (r, rp) = roundDigits(d, p, keep: precision + 1)
        if r.isEmpty { r = [0] }
        return expLayout(r, rp - 1, alwaysPoint: alternate, minFraction: precision, upper: upper)
    }

    /// `'%.{precision}g' % x` for finite x ≥ 0. `noType` gives the format-spec behaviour of an
    /// empty presentation type with a precision (at least one fraction digit in fixed notation).
    static func general(_ x: Double, precision: Int, upper: Bool, alternate: Bool, noType: Bool = false) -> String {
        let p = precision == 0 ? 1 : precision
        if x == 0 {
            if alternate { return fixedLayout([], 1, minFraction: p - 1) }
            return noType ? "0.0" : "0"
        }
        let (d, dp) = exactDigits(x)
        var (r, rp) = roundDigits(d, dp, keep: p)
        if r.isEmpty { r = [0] }
        let exp = rp - 1
        if exp >= -4 && exp < p {
            if alternate {
                return fixedLayout(r, rp, minFraction: p - 1 - exp)
            }
            return fixedLayout(r, rp, minFraction: noType ? 1 : 0)
        }
        if alternate {
            return expLayout(r, exp, alwaysPoint: true, minFraction: p - 1, upper: upper)
        }
        return expLayout(r, exp, alwaysPoint: false, upper: upper)
    }

    /// Python's `round(x, ndigits)` for a float: correctly rounded, half to even.
    static func round(_ x: Double, _ ndigits: Int) -> Double {
        if !x.isFinite || x == 0 { return x }
        if ndigits > 400 { return x }
        let (d, p) = exactDigits(abs(x))
        let (r, rp) = roundDigits(d, p, keep: p + ndigits)
        if r.isEmpty { return x < 0 ? -0.0 : 0.0 }
        var text = "0."
        for digit in r { text.append(Character(Unicode.Scalar(digit + 0x30))) }
        text += "e\(rp)"
        let v = Double(text) ?? x
        return x < 0 ? -v : v
    }
}

private extension String {
    /// fixedLayout always emits a point when minFraction > 0; `%.0f` has no point.
    func dropPointIfNoFraction(_ precision: Int) -> String {
        if precision == 0, let dot = firstIndex(of: ".") { return String(self[..<dot]) }
        return self
    }

}

/// A minimal arbitrary-precision unsigned integer, enough to print a double's exact decimal value.
struct BigUInt {
    var limbs: [UInt32]  // little-endian

    init(_ v: UInt64) {
        limbs = [UInt32(truncatingIfNeeded: v), UInt32(truncatingIfNeeded: v >> 32)]
        trim()
    }

    mutating func trim() {
        while limbs.count > 1 && limbs.last == 0 { limbs.removeLast() }
    }

    mutating func multiply(by m: UInt32) {
        var carry: UInt64 = 0
        for i in 0..<limbs.count {
            let p = UInt64(limbs[i]) * UInt64(m) + carry
            limbs[i] = UInt32(truncatingIfNeeded: p)
            carry = p >> 32
        }
        if carry != 0 { limbs.append(UInt32(carry)) }
    }

    mutating func shiftLeft(_ bits: Int) {
        let words = bits / 32
        let rem = bits % 32
        if rem != 0 {
            var carry: UInt32 = 0
            for i in 0..<limbs.count {
                let v = limbs[i]
                limbs[i] = (v << UInt32(rem)) | carry
                carry = v >> UInt32(32 - rem)
            }
            if carry != 0 { limbs.append(carry) }
        }
        if words > 0 { limbs.insert(contentsOf: repeatElement(0, count: words), at: 0) }
    }

    /// Divides in place by `d`, returning the remainder.
    mutating func divide(by d: UInt32) -> UInt32 {
        var rem: UInt64 = 0
        var i = limbs.count - 1
        while i >= 0 {
            let cur = (rem << 32) | UInt64(limbs[i])
            limbs[i] = UInt32(cur / UInt64(d))
            rem = cur % UInt64(d)
            i -= 1
        }
        trim()
        return UInt32(rem)
    }

    var isZero: Bool { limbs.count == 1 && limbs[0] == 0 }

    /// Decimal digits (values 0-9), most significant first.
    func decimalDigits() -> [UInt8] {
        var n = self
        var chunks: [UInt32] = []
        while !n.isZero { chunks.append(n.divide(by: 1_000_000_000)) }
        if chunks.isEmpty { return [0] }
        var out: [UInt8] = []
        for (i, chunk) in chunks.reversed().enumerated() {
            var buf = [UInt8](repeating: 0, count: 9)
            var c = chunk
            for j in stride(from: 8, through: 0, by: -1) {
                buf[j] = UInt8(c % 10)
                c /= 10
            }
            if i == 0 {
                let firstNonZero = buf.firstIndex { $0 != 0 } ?? 8
                out.append(contentsOf: buf[firstNonZero...])
            } else {
                out.append(contentsOf: buf)
            }
        }
        return out
    }
}
