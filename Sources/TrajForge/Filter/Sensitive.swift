// Finds secrets (API keys, tokens, private keys, credentials) and personal data (emails, phone
// numbers, card numbers) in text with hand-written scanners over Unicode scalars: Swift Regex runs
// at a few MB/s here, and these patterns are simple enough to state directly.

/// What kind of sensitive value a span holds.
public enum SensitiveKind: String, Sendable, CaseIterable, Comparable {
    case privateKey = "private-key"
    case apiKey = "api-key"
    case token
    case credential
    case email
    case phone
    case card

    /// Secrets must never reach training data; personal data often is the task itself (the agent
    /// looks users up by email), so it is handled separately.
    public var isSecret: Bool {
        switch self {
        case .privateKey, .apiKey, .token, .credential: true
        case .email, .phone, .card: false
        }
    }

    /// `<EMAIL_1>`, `<API_KEY_2>`…
    var placeholderStem: String { rawValue.uppercased().replacingOccurrences(of: "-", with: "_") }

    public static func < (a: SensitiveKind, b: SensitiveKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A sensitive value found in a text: its kind and its range of Unicode scalars.
public struct SensitiveSpan: Sendable, Equatable {
    public var kind: SensitiveKind
    public var range: Range<Int>
}

public enum SensitiveScanner {
    /// Every sensitive span in `text` among `kinds`, non-overlapping, in order (secrets win overlaps).
    public static func scan(_ text: String, kinds: Set<SensitiveKind> = Set(SensitiveKind.allCases)) -> [SensitiveSpan] {
        // Cheap pre-check: every detector needs one of these characters.
        var interesting = false
        for u in text.utf8 where u == UInt8(ascii: "@") || (u >= UInt8(ascii: "0") && u <= UInt8(ascii: "9")) || u == UInt8(ascii: "-") || u == UInt8(ascii: "_") {
            interesting = true
            break
        }
        guard interesting else { return [] }
        let s = Array(text.unicodeScalars)
        var found: [SensitiveSpan] = []
        if kinds.contains(.privateKey) { found += privateKeys(s) }
        if kinds.contains(.apiKey) || kinds.contains(.token) { found += prefixedSecrets(s).filter { kinds.contains($0.kind) } }
        if kinds.contains(.credential) { found += credentials(s) }
        if kinds.contains(.email) { found += emails(s) }
        if kinds.contains(.card) || kinds.contains(.phone) { found += numbers(s, kinds: kinds) }
        // Keep non-overlapping spans, secrets first, then earlier and longer.
        found.sort { ($0.kind.isSecret ? 0 : 1, $0.range.lowerBound, -$0.range.count) < ($1.kind.isSecret ? 0 : 1, $1.range.lowerBound, -$1.range.count) }
        var kept: [SensitiveSpan] = []
        for span in found where !kept.contains(where: { $0.range.overlaps(span.range) }) { kept.append(span) }
        return kept.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    // MARK: character classes

    static func isAlnum(_ u: Unicode.Scalar) -> Bool {
        (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9")
    }
    static func isDigit(_ u: Unicode.Scalar) -> Bool { u >= "0" && u <= "9" }
    static func isUpperOrDigit(_ u: Unicode.Scalar) -> Bool { (u >= "A" && u <= "Z") || isDigit(u) }
    static func isTokenChar(_ u: Unicode.Scalar) -> Bool { isAlnum(u) || u == "_" || u == "-" }
    /// A word character for boundary checks (letters of any script, digits, `_`).
    static func isWordChar(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x80 { return isAlnum(u) || u == "_" }
        return u.properties.isAlphabetic
    }

    /// Whether `u` lowercases to the ASCII letter `lower` (ASCII folded inline; other scalars by
    /// their Unicode lowercase mapping, so U+212A KELVIN SIGN still matches "k").
    @inline(__always)
    static func lowercases(_ u: Unicode.Scalar, to lower: Unicode.Scalar) -> Bool {
        if u.value < 0x80 { return (u.value >= 65 && u.value <= 90 ? u.value | 0x20 : u.value) == lower.value }
        return u.properties.lowercaseMapping == String(lower)
    }

    static let credentialNames: [[Unicode.Scalar]] = ["password", "passwd", "api_key", "apikey", "api-key", "secret_key", "client_secret",
                                                      "access_token", "auth_token"].map { Array($0.unicodeScalars) }

    static func hasPrefix(_ s: [Unicode.Scalar], at i: Int, _ p: [Unicode.Scalar]) -> Bool {
        guard i + p.count <= s.count else { return false }
        for k in 0..<p.count where s[i + k] != p[k] { return false }
        return true
    }

    static func hasPrefix(_ s: [Unicode.Scalar], at i: Int, _ p: String) -> Bool {
        var k = i
        for u in p.unicodeScalars {
            guard k < s.count, s[k] == u else { return false }
            k += 1
        }
        return true
    }

    // MARK: detectors

    /// `-----BEGIN … PRIVATE KEY-----` through its END line (or the end of the text).
    static func privateKeys(_ s: [Unicode.Scalar]) -> [SensitiveSpan] {
        var out: [SensitiveSpan] = []
        var i = 0
        while i < s.count {
            guard s[i] == "-", hasPrefix(s, at: i, "-----BEGIN ") else {
                i += 1
                continue
            }
            // The header must say PRIVATE KEY before its closing dashes.
            var j = i + 11
            while j < s.count, s[j] != "-", s[j] != "\n" { j += 1 }
            let header = String(String.UnicodeScalarView(s[(i + 11)..<j]))
            guard header.hasSuffix("PRIVATE KEY") else {
                i = j
                continue
            }
            var end = s.count
            var k = j
            while k < s.count {
                if s[k] == "-", hasPrefix(s, at: k, "-----END ") {
                    var e = k + 9
                    while e < s.count, s[e] != "\n" { e += 1 }
                    end = e
                    break
                }
                k += 1
            }
            out.append(SensitiveSpan(kind: .privateKey, range: i..<end))
            i = end
        }
        return out
    }

    typealias PrefixRule = (prefix: [Unicode.Scalar], kind: SensitiveKind, minimum: Int, allowed: @Sendable (Unicode.Scalar) -> Bool)

    static func rule(_ prefix: String, _ minimum: Int, _ allowed: @escaping @Sendable (Unicode.Scalar) -> Bool) -> PrefixRule {
        (Array(prefix.unicodeScalars), .apiKey, minimum, allowed)
    }

    /// (prefix, kind, minimum length of the part after the prefix, allowed characters)
    static let prefixRules: [PrefixRule] = {
        let alnumOrUnderscore: @Sendable (Unicode.Scalar) -> Bool = { isAlnum($0) || $0 == "_" }
        var rules: [PrefixRule] = [rule("sk-", 20, isTokenChar)]  // OpenAI (sk-proj-…), Anthropic (sk-ant-…)
        for p in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] { rules.append(rule(p, 30, isAlnum)) }
        rules.append(rule("github_pat_", 22, alnumOrUnderscore))
        rules.append(rule("glpat-", 20, isTokenChar))
        rules.append(rule("hf_", 30, isAlnum))
        rules.append(rule("AIza", 35, isTokenChar))  // Google
        for p in ["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"] { rules.append(rule(p, 10, isTokenChar)) }
        return rules
    }()

    /// Provider keys with a recognisable prefix, JWTs and bearer tokens.
    static func prefixedSecrets(_ s: [Unicode.Scalar]) -> [SensitiveSpan] {
        let rules = prefixRules
        var out: [SensitiveSpan] = []
        var i = 0
        scan: while i < s.count {
            if i > 0, isTokenChar(s[i - 1]) {
                i += 1
                continue
            }
            for (prefix, kind, minimum, allowed) in rules where s[i] == prefix[0] && hasPrefix(s, at: i, prefix) {
                var j = i + prefix.count
                while j < s.count, allowed(s[j]) { j += 1 }
                if j - i - prefix.count >= minimum {
                    out.append(SensitiveSpan(kind: kind, range: i..<j))
                    i = j
                    continue scan
                }
            }
            // AWS access key ids: AKIA/ASIA + exactly 16 upper-case letters or digits.
            if hasPrefix(s, at: i, "AKIA") || hasPrefix(s, at: i, "ASIA") {
                var j = i + 4
                while j < s.count, isUpperOrDigit(s[j]) { j += 1 }
                if j - i == 20, j == s.count || !isAlnum(s[j]) {
                    out.append(SensitiveSpan(kind: .apiKey, range: i..<j))
                    i = j
                    continue
                }
            }
            // JWT: header.payload.signature in base64url; header and payload are JSON ("eyJ" = `{"`).
            if hasPrefix(s, at: i, "eyJ") {
                var j = i
                var lengths: [Int] = []
                while lengths.count < 3 {
                    let start = j
                    while j < s.count, isTokenChar(s[j]) { j += 1 }
                    lengths.append(j - start)
                    if lengths.count < 3 {
                        guard j < s.count, s[j] == "." else { break }
                        j += 1
                    }
                }
                let payloadStart = i + (lengths.first ?? 0) + 1
                if lengths.count == 3, lengths.allSatisfy({ $0 >= 10 }), hasPrefix(s, at: payloadStart, "eyJ") {
                    out.append(SensitiveSpan(kind: .token, range: i..<j))
                    i = j
                    continue
                }
            }
            // "Bearer <token>": redact the token.
            if hasPrefix(s, at: i, "Bearer ") {
                var j = i + 7
                let start = j
                while j < s.count, isTokenChar(s[j]) || s[j] == "." || s[j] == "~" || s[j] == "+" || s[j] == "/" || s[j] == "=" { j += 1 }
                if j - start >= 20 {
                    out.append(SensitiveSpan(kind: .token, range: start..<j))
                    i = j
                    continue
                }
            }
            i += 1
        }
        return out
    }

    /// `password: …`, `api_key = …`, `secret="…"`: the value, when it looks like a credential
    /// (at least 8 characters, letters and digits mixed).
    static func credentials(_ s: [Unicode.Scalar]) -> [SensitiveSpan] {
        var out: [SensitiveSpan] = []
        var i = 0
        while i < s.count {
            // Every name starts with p, a, s or c (ASCII, any case): skip other ASCII at once.
            if s[i].value < 0x80 {
                let l = s[i].value | 0x20
                if l != 0x70 && l != 0x61 && l != 0x73 && l != 0x63 {
                    i += 1
                    continue
                }
            }
            var matched: [Unicode.Scalar]?
            for n in credentialNames where i + n.count <= s.count && lowercases(s[i], to: n[0]) {
                var ok = true
                for k in 1..<n.count where !lowercases(s[i + k], to: n[k]) {
                    ok = false
                    break
                }
                if ok, i == 0 || !isWordChar(s[i - 1]) {
                    matched = n
                    break
                }
            }
            guard let name = matched else {
                i += 1
                continue
            }
            var j = i + name.count
            while j < s.count, s[j] == " " || s[j] == "\"" || s[j] == "'" { j += 1 }
            guard j < s.count, s[j] == ":" || s[j] == "=" else {
                i = j
                continue
            }
            j += 1
            while j < s.count, s[j] == " " || s[j] == "\"" || s[j] == "'" { j += 1 }
            let start = j
            while j < s.count, !s[j].properties.isWhitespace, s[j] != "\"", s[j] != "'", s[j] != ",", s[j] != "}" { j += 1 }
            let value = s[start..<j]
            if value.count >= 8, value.contains(where: isDigit), value.contains(where: { $0.properties.isAlphabetic }) {
                out.append(SensitiveSpan(kind: .credential, range: start..<j))
            }
            i = j
        }
        return out
    }

    /// local@domain.tld
    static func emails(_ s: [Unicode.Scalar]) -> [SensitiveSpan] {
        func isLocal(_ u: Unicode.Scalar) -> Bool { isAlnum(u) || u == "." || u == "_" || u == "%" || u == "+" || u == "-" }
        func isDomain(_ u: Unicode.Scalar) -> Bool { isAlnum(u) || u == "." || u == "-" }
        var out: [SensitiveSpan] = []
        var lastEnd = 0
        for at in s.indices where s[at] == "@" && at >= lastEnd {
            var a = at
            while a > lastEnd, isLocal(s[a - 1]) { a -= 1 }
            while a < at, s[a] == "." { a += 1 }
            guard a < at else { continue }
            var b = at + 1
            while b < s.count, isDomain(s[b]) { b += 1 }
            while b > at + 1, s[b - 1] == "." || s[b - 1] == "-" { b -= 1 }
            let domain = s[(at + 1)..<b]
            guard let dot = domain.lastIndex(of: "."), dot > at + 1 else { continue }
            let tld = s[(dot + 1)..<b]
            guard tld.count >= 2, tld.allSatisfy({ ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") }) else { continue }
            out.append(SensitiveSpan(kind: .email, range: a..<b))
            lastEnd = b
        }
        return out
    }

    /// Card numbers (13–19 digits, optional single spaces/dashes, Luhn-valid) and phone numbers
    /// (10–15 digits written like a phone number: a leading +, or separators between digit groups).
    /// Bare digit runs (order and product ids) are neither.
    static func numbers(_ s: [Unicode.Scalar], kinds: Set<SensitiveKind>) -> [SensitiveSpan] {
        var out: [SensitiveSpan] = []
        var i = 0
        while i < s.count {
            let startsHere = isDigit(s[i]) || ((s[i] == "+" || s[i] == "(") && i + 1 < s.count && isDigit(s[i + 1]))
            if !startsHere || (i > 0 && (isWordChar(s[i - 1]) || s[i - 1] == "#" || s[i - 1] == "-" || s[i - 1] == ".")) {
                i += 1
                continue
            }
            var j = i
            var digits: [UInt8] = []
            var separators = 0
            var lastWasSeparator = false
            while j < s.count {
                let u = s[j]
                if isDigit(u) {
                    digits.append(UInt8(u.value - 48))
                    lastWasSeparator = false
                } else if (u == " " || u == "-" || u == "." || u == "(" || u == ")" || (u == "+" && j == i)) && !lastWasSeparator,
                          j + 1 < s.count, isDigit(s[j + 1]) || s[j + 1] == "(" || (u == ")" && s[j + 1] == " ")
                {
                    if u != "+" { separators += 1 }
                    lastWasSeparator = u != ")"
                } else {
                    break
                }
                j += 1
            }
            // The run must end at a word boundary.
            if j < s.count, isWordChar(s[j]) {
                i = j
                continue
            }
            if kinds.contains(.card), (13...19).contains(digits.count), luhn(digits), separators == 0 || separators >= 2 {
                out.append(SensitiveSpan(kind: .card, range: i..<j))
            } else if kinds.contains(.phone), (10...15).contains(digits.count), s[i] == "+" || separators >= 2 {
                out.append(SensitiveSpan(kind: .phone, range: i..<j))
            }
            i = j
        }
        return out
    }

    static func luhn(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (k, d) in digits.reversed().enumerated() {
            var v = Int(d)
            if k % 2 == 1 {
                v *= 2
                if v > 9 { v -= 9 }
            }
            sum += v
        }
        return sum % 10 == 0
    }
}

/// Replaces sensitive values with placeholders, consistently within one trajectory: the same value
/// always gets the same placeholder (`<EMAIL_1>`), so a tool call and the result that echoes its
/// argument still agree after redaction.
public struct Redactor {
    public let kinds: Set<SensitiveKind>
    private var assigned: [String: String] = [:]
    private var counters: [SensitiveKind: Int] = [:]
    /// How many values of each kind were replaced (distinct values, not occurrences).
    public private(set) var distinct: [SensitiveKind: Int] = [:]
    public private(set) var occurrences: [SensitiveKind: Int] = [:]

    public init(kinds: Set<SensitiveKind>) { self.kinds = kinds }

    public mutating func redact(_ text: String) -> String {
        let spans = SensitiveScanner.scan(text, kinds: kinds)
        if spans.isEmpty { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var cursor = 0
        for span in spans {
            out.append(contentsOf: scalars[cursor..<span.range.lowerBound])
            let value = String(String.UnicodeScalarView(scalars[span.range]))
            let key = span.kind.rawValue + "\u{0}" + value
            let placeholder: String
            if let p = assigned[key] {
                placeholder = p
            } else {
                counters[span.kind, default: 0] += 1
                distinct[span.kind, default: 0] += 1
                placeholder = "<\(span.kind.placeholderStem)_\(counters[span.kind]!)>"
                assigned[key] = placeholder
            }
            occurrences[span.kind, default: 0] += 1
            out.append(contentsOf: placeholder.unicodeScalars)
            cursor = span.range.upperBound
        }
        out.append(contentsOf: scalars[cursor...])
        return String(out)
    }
}
