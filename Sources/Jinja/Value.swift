// The one value type templates compute with. It models the Python objects a chat template sees
// in HF transformers: None, bool, int, float, str (and markupsafe's Markup), list, tuple,
// insertion-ordered dict, jinja's Namespace, and a few callables (macros, builtins, bound methods,
// the loop object). Lists, tuples and dicts are immutable in the sandbox, so value semantics match
// Python's observable behaviour; namespaces are the one mutable, shared object.

/// A template value.
public enum Value: Sendable {
    /// jinja2's default `Undefined`: prints as '', iterates as empty, is falsy; most other
    /// operations raise. `nil` is the plain kind; a non-nil info carries a message (and marks the
    /// sandbox's "unsafe attribute" undefined, which raises `SecurityError` when used).
    case undefined(UndefinedInfo?)
    /// Python's `None`. In a `[String: Value]` context write `Value.none`: a bare `.none` (or `nil`)
    /// assigned through the dictionary subscript is `Optional.none` and removes the key.
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// `markupsafe.Markup`: a string marked safe. Only `safe`/`escape` produce it.
    case markup(String)
    case list([Value])
    case tuple([Value])
    case dict(Dict)
    case namespace(Namespace)
    /// Callables and runtime objects (macros, builtin functions, bound methods, `loop`, ...).
    case object(PyObject)

    /// The plain undefined value (a missing variable, key or attribute).
    public static let undefined: Value = .undefined(nil)
}

/// Extra information an `Undefined` carries: why it is undefined, and whether using it is a
/// sandbox violation.
public final class UndefinedInfo: Sendable {
    public let message: String
    public let isSecurity: Bool
    public init(message: String, isSecurity: Bool = false) {
        self.message = message
        self.isSecurity = isSecurity
    }
}

// MARK: - Dict

/// An immutable, insertion-ordered Python dict. Keys are compared with Python semantics
/// (`1 == 1.0 == True`, strings by code points). Small dicts are scanned; larger ones get a hash index.
public final class Dict: Sendable {
    public let keys: [Value]
    public let values: [Value]
    private let index: [HashKey: Int]?
    /// Per key: `KeyPrint` of a string key (0 for other keys), so lookups compare integers first.
    let prints: [UInt64]
    var hasIndex: Bool { index != nil }

    @inline(__always)
    func hashedIndex(_ key: String) -> Int? {
        guard let index else { return nil }
        return index[.string(StrKey(key))]
    }

    static let indexThreshold = 8

    /// Builds a dict from pairs; a repeated key keeps its first position and its last value (as a
    /// Python dict literal does). Throws `TypeError` for an unhashable key.
    public convenience init(pairs: [(Value, Value)]) throws(TemplateError) {
        var keys: [Value] = []
        var values: [Value] = []
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        var seen: [HashKey: Int] = [:]
        for (k, v) in pairs {
            let hk = try HashKey(k)
            if let i = seen[hk] {
                values[i] = v
            } else {
                seen[hk] = keys.count
                keys.append(k)
                values.append(v)
            }
        }
        self.init(uniqueKeys: keys, values: values, index: keys.count > Dict.indexThreshold ? seen : nil)
    }

    /// Builds a dict from string-keyed pairs (JSON objects, keyword arguments); later duplicates
    /// overwrite earlier values.
    public convenience init(stringPairs: [(String, Value)]) {
        var keys: [Value] = []
        var values: [Value] = []
        keys.reserveCapacity(stringPairs.count)
        values.reserveCapacity(stringPairs.count)
        if stringPairs.count <= Dict.indexThreshold {
            outer: for (k, v) in stringPairs {
                for i in keys.indices {
                    if case .string(let existing) = keys[i], pyEqual(existing, k) {
                        values[i] = v
                        continue outer
                    }
                }
                keys.append(.string(k))
                values.append(v)
            }
            self.init(uniqueKeys: keys, values: values, index: nil)
        } else {
            var seen: [HashKey: Int] = [:]
            seen.reserveCapacity(stringPairs.count)
            for (k, v) in stringPairs {
                let hk = HashKey.string(StrKey(k))
                if let i = seen[hk] {
                    values[i] = v
                } else {
                    seen[hk] = keys.count
                    keys.append(.string(k))
                    values.append(v)
                }
            }
            self.init(uniqueKeys: keys, values: values, index: seen)
        }
    }

    init(uniqueKeys keys: [Value], values: [Value], index: [HashKey: Int]?) {
        self.keys = keys
        self.values = values
        self.prints = keys.map { k in
            if case .string(let s) = k { return KeyPrint.of(s) }
            return 0
        }
        if index == nil && keys.count > Dict.indexThreshold {
            var built: [HashKey: Int] = [:]
            built.reserveCapacity(keys.count)
            for (i, k) in keys.enumerated() {
                if let hk = try? HashKey(k) { built[hk] = i }
            }
            self.index = built
        } else {
            self.index = index
        }
    }

    public static let empty = Dict(uniqueKeys: [], values: [], index: nil)

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Looks up a string key.
    @inline(__always)
    public subscript(string key: String) -> Value? {
        self[string: key, print: KeyPrint.of(key)]
    }

    /// Looks up a string key whose `KeyPrint` is already known.
    @inline(__always)
    subscript(string key: String, print print: UInt64) -> Value? {
        if let index {
            guard let i = index[.string(StrKey(key))] else { return nil }
            return values[i]
        }
        let exact = KeyPrint.isExact(print)
        for i in 0..<prints.count where prints[i] == print {
            if exact { return values[i] }
            if case .string(let k) = keys[i], pyEqual(k, key) { return values[i] }
        }
        return nil
    }

    /// Looks up any key with Python semantics; throws `TypeError` for an unhashable key.
    public func lookup(_ key: Value) throws(TemplateError) -> Value? {
        if case .string(let s) = key { return self[string: s] }
        let hk = try HashKey(key)
        if let index {
            guard let i = index[hk] else { return nil }
            return values[i]
        }
        for i in 0..<keys.count {
            if let other = try? HashKey(keys[i]), other == hk { return values[i] }
        }
        return nil
    }

    /// The (key, value) pairs in insertion order.
    public var pairs: Zip2Sequence<[Value], [Value]> { zip(keys, values) }
}

/// A 64-bit summary of a string for fast key comparison: the UTF-8 length (capped at 255) in the
/// top byte and the first 7 bytes below. Equal strings have equal prints; for strings of at most
/// 7 bytes equal prints mean equal strings.
enum KeyPrint {
    @inline(__always)
    static func of(_ s: String) -> UInt64 {
        let n = s.utf8.count
        var p = UInt64(min(n, 255)) << 56
        if n > 0 {
            var shift: UInt64 = 0
            for b in s.utf8.prefix(7) {
                p |= UInt64(b) << shift
                shift += 8
            }
        }
        return p | 1 << 55  // never 0, the print of non-string keys
    }

    @inline(__always)
    static func isExact(_ p: UInt64) -> Bool { (p >> 56) <= 7 }
}

// MARK: - Namespace

/// jinja2's `namespace()`: a mutable attribute bag shared by reference, the one way to carry state
/// out of a loop. Namespaces are created during a render and live only inside it.
public final class Namespace: @unchecked Sendable {
    var names: [String] = []
    var values: [Value] = []

    public init() {}

    public subscript(name: String) -> Value? {
        for i in 0..<names.count where pyEqual(names[i], name) { return values[i] }
        return nil
    }

    func set(_ name: String, _ value: Value) {
        for i in 0..<names.count where pyEqual(names[i], name) {
            values[i] = value
            return
        }
        names.append(name)
        values.append(value)
    }
}

// MARK: - Objects

/// A runtime object that is not plain data: something callable or with attributes.
/// Subclasses (Objects.swift): macros, builtin functions, bound methods, `loop`, `range`, `cycler`,
/// `joiner`.
public class PyObject: @unchecked Sendable {
    /// The Python type name used in messages (`'Macro'`, `'builtin_function_or_method'`, ...).
    var typeName: String { "object" }
    /// What `repr()`/`str()` print.
    func repr() -> String { "<\(typeName) object>" }
    var isCallable: Bool { false }
    /// Calls the object.
    func call(_ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        throw TemplateError(.type, "'\(typeName)' object is not callable")
    }
    /// Python `getattr(obj, name)`; nil when there is no such attribute.
    func attribute(_ name: String, _ s: inout RenderState) throws(TemplateError) -> Value? { nil }
    /// `obj[key]`; nil when unsupported (the lookup then yields Undefined).
    func item(_ key: Value, _ s: inout RenderState) throws(TemplateError) -> Value? { nil }
    /// `obj[a:b:c]`; nil when unsupported.
    func slice(_ a: Int?, _ b: Int?, _ c: Int?) throws(TemplateError) -> Value? { nil }
    /// The items iteration visits, or nil if the object is not iterable. (Generators are
    /// consumed by this; use `isIterable` to ask without consuming.)
    func iterate() -> [Value]? { nil }
    var isIterable: Bool { false }
    /// `len(obj)`, or nil if unsupported.
    func length() -> Int? { nil }
    var truthy: Bool { true }
    func equals(_ other: PyObject) -> Bool { self === other }
}

/// Positional and keyword arguments of a call.
public struct Arguments: Sendable {
    public var positional: [Value]
    public var keywords: [(String, Value)]

    public init(_ positional: [Value] = [], keywords: [(String, Value)] = []) {
        self.positional = positional
        self.keywords = keywords
    }

    public static let none = Arguments()
    var isEmpty: Bool { positional.isEmpty && keywords.isEmpty }
}

// MARK: - Hash keys

/// A Python-hashable value, normalized so that equal keys compare equal (`True == 1 == 1.0`).
enum HashKey: Hashable, Sendable {
    case none
    case int(Int)
    case float(Double)  // only non-integral floats; integral ones become .int
    case string(StrKey)
    case tuple([HashKey])
    case undefined
    case identity(ObjectIdentifier)

    init(_ v: Value) throws(TemplateError) {
        switch v {
        case .none: self = .none
        case .bool(let b): self = .int(b ? 1 : 0)
        case .int(let i): self = .int(i)
        case .float(let d):
            if d.rounded(.towardZero) == d, abs(d) < 9.2e18 { self = .int(Int(d)) } else { self = .float(d) }
        case .string(let s), .markup(let s): self = .string(StrKey(s))
        case .tuple(let items):
            var keys: [HashKey] = []
            keys.reserveCapacity(items.count)
            for item in items { keys.append(try HashKey(item)) }
            self = .tuple(keys)
        case .undefined: self = .undefined
        case .namespace(let n): self = .identity(ObjectIdentifier(n))
        case .object(let o): self = .identity(ObjectIdentifier(o))
        case .list: throw TemplateError(.type, "unhashable type: 'list'")
        case .dict: throw TemplateError(.type, "unhashable type: 'dict'")
        }
    }
}

/// A string compared and hashed by its UTF-8 bytes (Python compares code points, not Unicode
/// canonical equivalence as Swift's `String ==` does).
struct StrKey: Hashable, Sendable {
    let s: String
    init(_ s: String) { self.s = s }
    static func == (a: StrKey, b: StrKey) -> Bool { pyEqual(a.s, b.s) }
    func hash(into h: inout Hasher) {
        var s = self.s
        s.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

// MARK: - Literals

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
    ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: Value...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self = .dict(Dict(stringPairs: elements))
    }
    public init(nilLiteral: ()) { self = .none }
}

extension Value {
    /// A dict value from string-keyed pairs, in order.
    public static func dict(_ pairs: [(String, Value)]) -> Value { .dict(Dict(stringPairs: pairs)) }

    public var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// None, bools, numbers and strings.
    var isScalar: Bool {
        switch self {
        case .none, .bool, .int, .float, .string: true
        default: false
        }
    }
    public var isNone: Bool { if case .none = self { return true } else { return false } }

    /// The string payload of a str or Markup.
    @inline(__always)
    public var stringValue: String? {
        switch self {
        case .string(let s), .markup(let s): return s
        default: return nil
        }
    }
}

// MARK: - Python string comparison

/// Python `str ==`: equal code points (byte-equal UTF-8).
@inline(__always)
func pyEqual(_ a: String, _ b: String) -> Bool {
    let au = a.utf8, bu = b.utf8
    if au.count != bu.count { return false }
    if let r = au.withContiguousStorageIfAvailable({ ap in
        bu.withContiguousStorageIfAvailable { bp in
            ap.count == 0 || memcmpBytes(ap.baseAddress!, bp.baseAddress!, ap.count)
        }
    }), let r { return r }
    return au.elementsEqual(bu)
}

@inline(__always)
private func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    if a == b { return true }
    var i = 0
    while i + 8 <= n {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self)
        let y = UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self)
        if x != y { return false }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Python `str <`: lexicographic by code point (UTF-8 byte order is code point order).
func pyLess(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
