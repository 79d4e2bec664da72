// A JSON value that round-trips what it read: object members keep their order and numbers keep
// their source text, so `1.0` stays `1.0` and a 20-digit id stays exact.

/// One JSON value.
public enum JSON: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSON])
    case object(JSONObject)
}

/// A JSON number kept as its source text (always valid JSON number grammar).
public struct JSONNumber: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let text: String

    /// `text` must already be valid JSON number text; use `init?(validating:)` for untrusted text.
    public init(unchecked text: String) { self.text = text }

    public init?(validating text: String) {
        var copy = text
        let ok = copy.withUTF8 { JSONNumber.isValidNumber($0) }
        guard ok else { return nil }
        self.text = text
    }

    public init(_ value: Int) { text = String(value) }

    /// Writes the shortest text that round-trips `value`, as Python's `repr(float)` does
    /// (`1.0`, `0.1`, `1e+16`, `1e-05`). Non-finite values have no JSON form: returns nil.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        text = PythonFloat.repr(value)
    }

    /// True when the text has no fraction and no exponent.
    public var isInteger: Bool {
        for b in text.utf8 where b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
            return false
        }
        return true
    }

    /// The value as an `Int` when the text is an integer that fits.
    public var int: Int? { isInteger ? Int(text) : nil }

    /// The value as a `Double` (correctly rounded; may be ±infinity for huge exponents).
    public var double: Double? { Double(text) }

    public var description: String { text }

    static func isValidNumber(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = b.count
        if i < n, b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n else { return false }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else if b[i] >= UInt8(ascii: "1"), b[i] <= UInt8(ascii: "9") {
            while i < n, b[i] &- UInt8(ascii: "0") < 10 { i += 1 }
        } else {
            return false
        }
        if i < n, b[i] == UInt8(ascii: ".") {
            i += 1
            let s = i
            while i < n, b[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            if i == s { return false }
        }
        if i < n, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < n, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            let s = i
            while i < n, b[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            if i == s { return false }
        }
        return i == n
    }
}

/// One member of a JSON object.
public struct JSONMember: Sendable, Equatable, Hashable {
    public var key: String
    public var value: JSON
    public init(_ key: String, _ value: JSON) {
        self.key = key
        self.value = value
    }
}

/// An insertion-ordered JSON object. Keys are unique (the parser keeps the first position and the
/// last value of a repeated key, as Python's `json.loads` does).
public struct JSONObject: Sendable, Equatable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public var members: [JSONMember]

    public init() { members = [] }
    public init(_ members: [JSONMember]) { self.members = members }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        members = []
        members.reserveCapacity(elements.count)
        for (k, v) in elements { self[k] = v }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    public func makeIterator() -> IndexingIterator<[JSONMember]> { members.makeIterator() }

    public func index(of key: String) -> Int? {
        members.firstIndex { $0.key == key }
    }

    /// Reads a member; setting `nil` removes it, setting a value replaces it in place or appends it.
    public subscript(key: String) -> JSON? {
        get {
            for m in members where m.key == key { return m.value }
            return nil
        }
        set {
            if let i = index(of: key) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append(JSONMember(key, newValue))
            }
        }
    }

    /// Removes a member and returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSON? {
        guard let i = index(of: key) else { return nil }
        return members.remove(at: i).value
    }

    /// Objects are equal when they hold the same members in the same order.
    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.members == b.members }
}

// MARK: - Convenience accessors

extension JSON {
    public var isNull: Bool { if case .null = self { return true } else { return false } }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var number: JSONNumber? { if case .number(let n) = self { return n } else { return nil } }
    public var int: Int? { number?.int }
    public var double: Double? { number?.double }
    public var array: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    /// Member lookup on an object; nil for other kinds or a missing key.
    public subscript(key: String) -> JSON? { object?[key] }

    /// The JSON type name used in messages ("object", "array", "string", "number", "boolean", "null").
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        var o = JSONObject()
        for (k, v) in elements { o[k] = v }
        self = .object(o)
    }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = JSONNumber(value).map(JSON.number) ?? .null }
}
