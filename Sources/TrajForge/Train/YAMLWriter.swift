import ByteJSON

// A small block-style YAML writer for the configs trajforge emits: mappings (with an optional
// trailing comment per key), sequences and scalars. Strings are written plain only when every
// YAML 1.1 and 1.2 loader (PyYAML, OmegaConf, ruamel) reads them back as the same string;
// otherwise they are double-quoted with JSON escapes (valid YAML). Floats always carry a '.' so
// that PyYAML resolves them as floats (`5.0e-06`; PyYAML reads `5e-06` as a string).

public indirect enum YAMLNode: Sendable, Equatable {
    case scalar(JSON)
    case mapping([YAMLEntry])
    case sequence([YAMLNode])

    public static func string(_ s: String) -> YAMLNode { .scalar(.string(s)) }
    public static func int(_ n: Int) -> YAMLNode { .scalar(.number(JSONNumber(n))) }
    public static func double(_ x: Double) -> YAMLNode { .scalar(JSONNumber(x).map(JSON.number) ?? .null) }
    public static func bool(_ b: Bool) -> YAMLNode { .scalar(.bool(b)) }
    public static let null = YAMLNode.scalar(.null)
    public static func strings(_ list: [String]) -> YAMLNode { .sequence(list.map(YAMLNode.string)) }
}

public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var value: YAMLNode
    /// Written after the value on the key's line (scalars) or after the key (collections).
    public var comment: String?

    public init(_ key: String, _ value: YAMLNode, comment: String? = nil) {
        self.key = key
        self.value = value
        self.comment = comment
    }
}

public enum YAMLWriter {
    /// A document: `header` lines as `# ` comments, then the mapping. Blank lines separate
    /// entries whose key starts a new section (`sections`: key → section title comment).
    public static func document(header: [String], entries: [YAMLEntry], sections: [String: String] = [:]) -> String {
        var out = ""
        for line in header { out += line.isEmpty ? "#\n" : "# \(line)\n" }
        for (k, e) in entries.enumerated() {
            if let title = sections[e.key] {
                if k > 0 || !header.isEmpty { out += "\n" }
                out += "### \(title)\n"
            }
            write(entry: e, indent: 0, into: &out)
        }
        return out
    }

    static func write(entry e: YAMLEntry, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        let comment = e.comment.map { "  # \($0)" } ?? ""
        switch e.value {
        case .scalar(let v):
            out += "\(pad)\(key(e.key)): \(scalar(v))\(comment)\n"
        case .mapping(let entries) where entries.isEmpty:
            out += "\(pad)\(key(e.key)): {}\(comment)\n"
        case .sequence(let items) where items.isEmpty:
            out += "\(pad)\(key(e.key)): []\(comment)\n"
        case .mapping(let entries):
            out += "\(pad)\(key(e.key)):\(comment)\n"
            for sub in entries { write(entry: sub, indent: indent + 2, into: &out) }
        case .sequence(let items):
            out += "\(pad)\(key(e.key)):\(comment)\n"
            for item in items { write(item: item, indent: indent + 2, into: &out) }
        }
    }

    static func write(item: YAMLNode, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch item {
        case .scalar(let v):
            out += "\(pad)- \(scalar(v))\n"
        case .mapping(let entries) where entries.isEmpty:
            out += "\(pad)- {}\n"
        case .sequence(let items) where items.isEmpty:
            out += "\(pad)- []\n"
        case .mapping(let entries):
            // The first entry goes on the dash's line; the rest align under it.
            var first = ""
            write(entry: entries[0], indent: indent + 2, into: &first)
            out += pad + "- " + first.dropFirst(indent + 2)
            for sub in entries.dropFirst() { write(entry: sub, indent: indent + 2, into: &out) }
        case .sequence(let items):
            out += "\(pad)-\n"
            for sub in items { write(item: sub, indent: indent + 2, into: &out) }
        }
    }

    static func key(_ k: String) -> String { isPlainSafe(k) ? k : quoted(k) }

    /// A scalar as YAML text.
    public static func scalar(_ v: JSON) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return number(n)
        case .string(let s): return isPlainSafe(s) ? s : quoted(s)
        case .array, .object: return v.serialized()  // flow style (JSON is valid YAML flow)
        }
    }

    /// Integers as they are; other numbers with a '.' in the mantissa (`5.0e-06`, `0.01`, `3.0`).
    static func number(_ n: JSONNumber) -> String {
        let t = n.text
        if n.isInteger { return t }
        guard let e = t.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return t }
        let mantissa = t[..<e]
        if mantissa.contains(".") { return t }
        return mantissa + ".0" + t[e...]
    }

    static func quoted(_ s: String) -> String { JSON.string(s).serialized() }

    /// Words YAML 1.1 (PyYAML) or 1.2 would read as booleans or null.
    static let reserved: Set<String> = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ""]

    /// True when `s` reads back as the same string in every YAML loader: starts with a letter,
    /// '/', '_' or '.', contains only letters, digits and `_ - . / +`, is no reserved word and
    /// no number (incl. `.inf`, `.nan`).
    public static func isPlainSafe(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first else { return false }
        if reserved.contains(s.lowercased()) { return false }
        let lower = s.lowercased()
        if [".inf", "-.inf", "+.inf", ".nan"].contains(lower) { return false }
        guard isLetter(first) || first == "/" || first == "_" || first == "." else { return false }
        if first == ".", s.count > 1, let second = s.unicodeScalars.dropFirst().first, isDigit(second) { return false }
        for c in s.unicodeScalars where !(isLetter(c) || isDigit(c) || "_-./+".unicodeScalars.contains(c)) { return false }
        return true
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
}
