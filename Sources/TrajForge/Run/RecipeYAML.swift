import Foundation
import Yams

/// A problem in a recipe, at a line and column of its YAML file.
public struct RecipeError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String

    public var description: String { line > 0 ? "\(file):\(line):\(column): \(message)" : "\(file): \(message)" }
}

/// Reads one YAML mapping of a recipe with typed getters. Every key must be read (or it is an
/// unknown key, reported with its line); every value must have the expected type. Strings may
/// refer to variables as `${NAME}` or `${NAME:-default}` (recipe `--var`, then the environment).
final class YAMLMapping {
    let file: String
    let path: String
    let mark: Mark?
    private let pairs: [(key: String, keyMark: Mark?, value: Node)]
    private var read: Set<String> = []
    let variables: [String: String]

    init(_ node: Node, path: String, file: String, variables: [String: String]) throws(RecipeError) {
        self.file = file
        self.path = path
        self.variables = variables
        mark = node.mark
        guard case .mapping(let mapping) = node else {
            throw YAMLMapping.error(file, node.mark, "\(path.isEmpty ? "the recipe" : path) must be a mapping (key: value lines), not \(YAMLMapping.describe(node))")
        }
        var pairs: [(String, Mark?, Node)] = []
        for (k, v) in mapping {
            guard case .scalar(let s) = k else { throw YAMLMapping.error(file, k.mark, "\(path): keys must be plain names") }
            pairs.append((s.string, k.mark, v))
        }
        self.pairs = pairs
    }

    static func error(_ file: String, _ mark: Mark?, _ message: String) -> RecipeError {
        RecipeError(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, message: message)
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let s):
            switch kind(s) {
            case .null: "null"
            case .bool: "a boolean (\(s.string))"
            case .int: "an integer (\(s.string))"
            case .float: "a number (\(s.string))"
            default: "the text \"\(s.string)\""
            }
        }
    }

    func key(_ name: String) -> String { path.isEmpty ? name : path + "." + name }

    func error(_ name: String, _ message: String) -> RecipeError {
        YAMLMapping.error(file, node(name)?.mark ?? mark, "\(key(name)): \(message)")
    }

    /// The value of `name`, marking it read; nil when absent or null.
    func node(_ name: String) -> Node? {
        guard let p = pairs.first(where: { $0.key == name }) else { return nil }
        read.insert(name)
        if case .scalar(let s) = p.value, kind(s) == .null { return nil }
        return p.value
    }

    var keys: [String] { pairs.map(\.key) }
    func has(_ name: String) -> Bool { pairs.contains { $0.key == name } }

    /// Fails on the first key that was never read, naming the keys this mapping takes.
    func finish(allowed: [String]) throws(RecipeError) {
        for p in pairs where !read.contains(p.key) {
            var message = "unknown key \"\(key(p.key))\""
            if let near = allowed.min(by: { editDistance($0, p.key) < editDistance($1, p.key) }), editDistance(near, p.key) <= 3 {
                message += " (did you mean \"\(near)\"?)"
            }
            message += "; \(path.isEmpty ? "a recipe" : path) takes: " + allowed.joined(separator: ", ")
            throw YAMLMapping.error(file, p.keyMark, message)
        }
    }

    // MARK: typed values

    func string(_ name: String) throws(RecipeError) -> String? {
        guard let n = node(name) else { return nil }
        return try scalarString(n, key(name))
    }

    func scalarString(_ n: Node, _ what: String) throws(RecipeError) -> String {
        guard case .scalar(let s) = n else { throw YAMLMapping.error(file, n.mark, "\(what): expected text, got \(YAMLMapping.describe(n))") }
        return try substitute(s.string, n.mark, what)
    }

    func requiredString(_ name: String) throws(RecipeError) -> String {
        guard let s = try string(name) else { throw YAMLMapping.error(file, mark, "\(key(name)) is required") }
        return s
    }

    func int(_ name: String, min: Int? = nil, max: Int? = nil) throws(RecipeError) -> Int? {
        guard let n = node(name) else { return nil }
        guard case .scalar(let s) = n, kind(s) == .int || s.string.hasPrefix("${"), let v = Int(try substitute(s.string, n.mark, key(name))) else {
            throw YAMLMapping.error(file, n.mark, "\(key(name)): expected an integer, got \(YAMLMapping.describe(n))")
        }
        if let min, v < min { throw YAMLMapping.error(file, n.mark, "\(key(name)): must be at least \(min) (got \(v))") }
        if let max, v > max { throw YAMLMapping.error(file, n.mark, "\(key(name)): must be at most \(max) (got \(v))") }
        return v
    }

    func double(_ name: String, min: Double? = nil, max: Double? = nil) throws(RecipeError) -> Double? {
        guard let n = node(name) else { return nil }
        guard case .scalar(let s) = n, kind(s) == .int || kind(s) == .float || s.string.hasPrefix("${"),
              let v = Double(try substitute(s.string, n.mark, key(name))), v.isFinite
        else {
            throw YAMLMapping.error(file, n.mark, "\(key(name)): expected a number, got \(YAMLMapping.describe(n))")
        }
        if let min, v < min { throw YAMLMapping.error(file, n.mark, "\(key(name)): must be at least \(min) (got \(v))") }
        if let max, v > max { throw YAMLMapping.error(file, n.mark, "\(key(name)): must be at most \(max) (got \(v))") }
        return v
    }

    func bool(_ name: String) throws(RecipeError) -> Bool? {
        guard let n = node(name) else { return nil }
        let truths = ["true", "yes", "on"], falsehoods = ["false", "no", "off"]
        guard case .scalar(let s) = n, kind(s) == .bool, truths.contains(s.string.lowercased()) || falsehoods.contains(s.string.lowercased()) else {
            throw YAMLMapping.error(file, n.mark, "\(key(name)): expected true or false, got \(YAMLMapping.describe(n))")
        }
        return truths.contains(s.string.lowercased())
    }

    /// One of `choices`.
    func choice(_ name: String, _ choices: [String]) throws(RecipeError) -> String? {
        guard let v = try string(name) else { return nil }
        guard choices.contains(v) else { throw error(name, "must be one of \(choices.joined(separator: ", ")) (got \"\(v)\")") }
        return v
    }

    /// A list of texts (a single text counts as a one-item list).
    func strings(_ name: String) throws(RecipeError) -> [String]? {
        guard let n = node(name) else { return nil }
        if case .sequence(let seq) = n {
            var out: [String] = []
            for (k, item) in seq.enumerated() { out.append(try scalarString(item, "\(key(name))[\(k)]")) }
            return out
        }
        return [try scalarString(n, key(name))]
    }

    func mapping(_ name: String) throws(RecipeError) -> YAMLMapping? {
        guard let n = node(name) else { return nil }
        return try YAMLMapping(n, path: key(name), file: file, variables: variables)
    }

    /// A list of mappings (a single mapping counts as a one-item list).
    func mappings(_ name: String) throws(RecipeError) -> [YAMLMapping]? {
        guard let n = node(name) else { return nil }
        if case .sequence(let seq) = n {
            var out: [YAMLMapping] = []
            for (k, item) in seq.enumerated() { out.append(try YAMLMapping(item, path: "\(key(name))[\(k)]", file: file, variables: variables)) }
            return out
        }
        return [try YAMLMapping(n, path: key(name), file: file, variables: variables)]
    }

    /// A mapping of text values (template variables).
    func stringMap(_ name: String) throws(RecipeError) -> [(String, String)]? {
        guard let m = try mapping(name) else { return nil }
        var out: [(String, String)] = []
        for k in m.keys {
            guard let n = m.node(k) else { continue }
            out.append((k, try m.scalarString(n, m.key(k))))
        }
        return out
    }

    /// `${NAME}` / `${NAME:-default}` from the recipe variables, then the environment.
    func substitute(_ text: String, _ mark: Mark?, _ what: String) throws(RecipeError) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw YAMLMapping.error(file, mark, "\(what): unclosed ${ in \"\(text)\"")
            }
            let body = rest[open.upperBound..<close]
            let (name, fallback): (Substring, Substring?) = {
                if let r = body.range(of: ":-") { return (body[..<r.lowerBound], body[r.upperBound...]) }
                return (body, nil)
            }()
            if let v = variables[String(name)] ?? ProcessInfo.processInfo.environment[String(name)], !v.isEmpty {
                out += v
            } else if let fallback {
                out += fallback
            } else {
                throw YAMLMapping.error(file, mark, "\(what): variable \(name) is not set (give --var \(name)=VALUE, set it in the environment, or write ${\(name):-default})")
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

/// A scalar's resolved YAML type (int, float, bool, null, str, timestamp…).
/// Plain scalars come with an implicit tag that the default (YAML 1.1) resolver turns into a type;
/// quoted ones are text.
func kind(_ s: Node.Scalar) -> Tag.Name {
    switch s.tag.description {
    case Tag.Name.implicit.rawValue: Resolver.default.resolveTag(of: Node.scalar(s))
    case Tag.Name.nonSpecific.rawValue: .str
    case let name: Tag.Name(rawValue: name)
    }
}

/// Levenshtein distance, for "did you mean" hints on short keys.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var previous = row[0]
        row[0] = i
        for j in 1...b.count {
            let saved = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = saved
        }
    }
    return row[b.count]
}

/// Parses YAML text into a root node, turning Yams errors into recipe errors with positions.
func composeRecipe(_ text: String, file: String) throws(RecipeError) -> Node {
    do {
        guard let node = try Yams.compose(yaml: text) else { throw RecipeError(file: file, line: 0, column: 0, message: "the recipe is empty") }
        return node
    } catch let e as RecipeError {
        throw e
    } catch let e as YamlError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            throw RecipeError(file: file, line: mark.line, column: mark.column, message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            throw RecipeError(file: file, line: context.mark.line, column: context.mark.column,
                              message: "duplicate key(s) \(duplicates.joined(separator: ", ")) in one mapping")
        default:
            throw RecipeError(file: file, line: 0, column: 0, message: "not valid YAML: \(e)")
        }
    } catch {
        throw RecipeError(file: file, line: 0, column: 0, message: "not valid YAML: \(error)")
    }
}
