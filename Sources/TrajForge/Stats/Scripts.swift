/// The writing system of a letter, from fixed Unicode block ranges: a cheap script classifier,
/// not a language identifier (English and French are both Latin; Japanese is Han plus Kana).
/// Only letters count: digits, punctuation, spaces, symbols and emoji belong to no script here.
public enum Script: Int, Sendable, CaseIterable {
    case latin, cyrillic, greek, arabic, hebrew, devanagari, otherIndic, thai, han, kana, hangul, other

    public var name: String {
        switch self {
        case .latin: "Latin"
        case .cyrillic: "Cyrillic"
        case .greek: "Greek"
        case .arabic: "Arabic"
        case .hebrew: "Hebrew"
        case .devanagari: "Devanagari"
        case .otherIndic: "Other Indic"
        case .thai: "Thai"
        case .han: "Han"
        case .kana: "Kana"
        case .hangul: "Hangul"
        case .other: "Other letters"
        }
    }

    /// The script of `u`, or nil when it is not a letter.
    public static func of(_ u: Unicode.Scalar) -> Script? {
        let v = u.value
        if v < 0x80 {
            return (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) ? .latin : nil
        }
        switch v {
        case 0xC0...0x24F where v != 0xD7 && v != 0xF7, 0x1E00...0x1EFF, 0x2C60...0x2C7F, 0xA720...0xA7FF, 0xFF21...0xFF3A, 0xFF41...0xFF5A:
            return .latin
        case 0x370...0x3FF, 0x1F00...0x1FFF:
            return u.properties.isAlphabetic ? .greek : nil
        case 0x400...0x52F, 0x1C80...0x1C8F, 0x2DE0...0x2DFF, 0xA640...0xA69F:
            return u.properties.isAlphabetic ? .cyrillic : nil
        case 0x590...0x5FF, 0xFB1D...0xFB4F:
            return u.properties.isAlphabetic ? .hebrew : nil
        case 0x600...0x6FF, 0x750...0x77F, 0x8A0...0x8FF, 0xFB50...0xFDFF, 0xFE70...0xFEFF:
            return u.properties.isAlphabetic ? .arabic : nil
        case 0x900...0x97F:
            return u.properties.isAlphabetic ? .devanagari : nil
        case 0x980...0xDFF:
            return u.properties.isAlphabetic ? .otherIndic : nil
        case 0xE00...0xE7F:
            return u.properties.isAlphabetic ? .thai : nil
        case 0x1100...0x11FF, 0x3130...0x318F, 0xA960...0xA97F, 0xAC00...0xD7AF, 0xD7B0...0xD7FF:
            return .hangul
        case 0x3040...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F:
            return u.properties.isAlphabetic ? .kana : nil
        case 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x323AF:
            return .han
        default:
            return u.properties.isAlphabetic ? .other : nil
        }
    }

    /// Letters per script in `text` (indexed by `Script.rawValue`), added to `counts`.
    public static func count(_ text: String, into counts: inout [Int]) {
        for u in text.unicodeScalars {
            if u.value < 0x80 {
                let v = u.value | 0x20
                if v >= 0x61 && v <= 0x7A { counts[0] += 1 }
                continue
            }
            if let s = of(u) { counts[s.rawValue] += 1 }
        }
    }
}
