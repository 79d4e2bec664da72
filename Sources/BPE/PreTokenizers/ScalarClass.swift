// Character classes used by the split patterns: \p{L}, \p{N}, \s and "other".
//
// L = Lu|Ll|Lt|Lm|Lo, N = Nd|Nl|No, \s = White_Space. Scalar (not grapheme) semantics, as in
// Oniguruma (HF tokenizers) and the `regex` crate (tiktoken). The BMP is a precomputed 64 KiB table;
// scalars above it are classified through `Unicode.Scalar.Properties` on demand.

/// The class of one Unicode scalar, as seen by the split patterns.
enum ScalarClass: UInt8 {
    case other = 0
    case letter = 1
    case number = 2
    case whitespace = 3
}

enum ScalarClassTable {
    /// One byte per BMP scalar (surrogates are never looked up: input is valid UTF-8). Allocated once
    /// for the life of the process and never written after initialization.
    nonisolated(unsafe) static let bmp: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        t.initialize(repeating: 0, count: 0x10000)
        for v in 0..<0x10000 {
            guard let s = Unicode.Scalar(UInt32(v)) else { continue }
            t[v] = classify(s).rawValue
        }
        return UnsafePointer(t)
    }()

    /// The Unicode version of the tables HF tokenizers uses (Oniguruma's, for the Split regex).
    /// Scalars assigned in a later version are unassigned there, hence "other" (\P{L}, \P{N}, \S).
    /// Measured: against tokenizers 0.23.3 the only class differences from Swift 6.3's Unicode 17.0
    /// tables were the 4,657 scalars new in 17.0 (see Tests/BPETests/UnicodeVersionTests.swift).
    static let hfUnicodeVersion = (major: 16, minor: 0)

    /// Whether `s` was assigned after `hfUnicodeVersion` (and so is unassigned for HF).
    static func isNewerThanHF(_ p: Unicode.Scalar.Properties) -> Bool {
        guard let age = p.age else { return false }
        return age.major > hfUnicodeVersion.major
            || (age.major == hfUnicodeVersion.major && age.minor > hfUnicodeVersion.minor)
    }

    /// Class of any scalar from its Unicode properties (the table is built from this).
    static func classify(_ s: Unicode.Scalar) -> ScalarClass {
        let p = s.properties
        if isNewerThanHF(p) { return .other }
        if p.isWhitespace { return .whitespace }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}

/// A read-only view of UTF-8 input with fast scalar classification.
///
/// The input must be valid UTF-8 (it always comes from a Swift `String`).
struct ClassifiedUTF8 {
    let base: UnsafePointer<UInt8>
    let count: Int
    let table: UnsafePointer<UInt8>

    /// Class and byte length of the scalar starting at `i` (`i < count`).
    @inline(__always)
    func scalar(at i: Int) -> (cls: ScalarClass, len: Int) {
        let b0 = base[i]
        if b0 < 0x80 {
            return (unsafeBitCast(table[Int(b0)], to: ScalarClass.self), 1)
        }
        if b0 < 0xE0 {
            let v = (Int(b0 & 0x1F) << 6) | Int(base[i + 1] & 0x3F)
            return (unsafeBitCast(table[v], to: ScalarClass.self), 2)
        }
        if b0 < 0xF0 {
            let v = (Int(b0 & 0x0F) << 12) | (Int(base[i + 1] & 0x3F) << 6) | Int(base[i + 2] & 0x3F)
            return (unsafeBitCast(table[v], to: ScalarClass.self), 3)
        }
        let v = (UInt32(b0 & 0x07) << 18) | (UInt32(base[i + 1] & 0x3F) << 12)
            | (UInt32(base[i + 2] & 0x3F) << 6) | UInt32(base[i + 3] & 0x3F)
        return (ScalarClassTable.classify(Unicode.Scalar(v)!), 4)
    }
}
