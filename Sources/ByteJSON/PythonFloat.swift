// Python's `repr(float)`: the shortest digits that round-trip, written in fixed notation when the
// decimal exponent is in [-4, 16), otherwise as `d.ddde+XX`. Swift's `description` picks the same
// shortest digits but switches notation at different thresholds, so we re-lay them out.

public enum PythonFloat {
    /// `repr(x)` as CPython 3 prints it: `1.0`, `0.1`, `1e+16`, `1e-05`, `inf`, `nan`.
    public static func repr(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        if x == 0 { return x.sign == .minus ? "-0.0" : "0.0" }
        let (negative, digits, decpt) = shortestDigits(x)
        var out = negative ? "-" : ""
        if decpt > -4 && decpt <= 16 {
            // Fixed notation: value = 0.DIGITS × 10^decpt.
            if decpt <= 0 {
                out += "0." + String(repeating: "0", count: -decpt) + digits
            } else if decpt >= digits.count {
                out += digits + String(repeating: "0", count: decpt - digits.count) + ".0"
            } else {
                let cut = digits.index(digits.startIndex, offsetBy: decpt)
                out += digits[..<cut] + "." + digits[cut...]
            }
        } else {
            let exp = decpt - 1
            out += String(digits.first!)
            if digits.count > 1 { out += "." + digits.dropFirst() }
            out += exp < 0 ? "e-" : "e+"
            let mag = String(abs(exp))
            if mag.count < 2 { out += "0" }
            out += mag
        }
        return out
    }

    /// The shortest round-trip decimal digits of a finite non-zero `x` (no leading/trailing zeros)
    /// and `decpt` such that |x| = 0.DIGITS × 10^decpt.
    static func shortestDigits(_ x: Double) -> (negative: Bool, digits: String, decpt: Int) {
        let text = abs(x).description  // "123.45", "1.2345e+20", "5e-324"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...])!
        }
        var intPart = mantissa
        var fracPart: Substring = ""
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = mantissa[..<dot]
            fracPart = mantissa[mantissa.index(after: dot)...]
        }
        var digits = String(intPart) + fracPart
        var decpt = intPart.count + exponent
        // Strip leading zeros (each one moves the decimal point) and trailing zeros.
        while digits.hasPrefix("0") {
            digits.removeFirst()
            decpt -= 1
        }
        while digits.hasSuffix("0") { digits.removeLast() }
        return (x < 0, digits, decpt)
    }
}
