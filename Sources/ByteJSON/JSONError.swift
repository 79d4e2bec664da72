/// Why a byte sequence is not JSON, and where (a byte offset from the start of the parsed buffer).
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case empty = "empty input"
        case unexpectedEnd = "unexpected end of input"
        case unexpectedCharacter = "unexpected character"
        case invalidNumber = "invalid number"
        case invalidEscape = "invalid escape"
        case loneSurrogate = "lone UTF-16 surrogate in \\u escape"
        case controlCharacter = "unescaped control character in string"
        case invalidUTF8 = "invalid UTF-8"
        case tooDeep = "nesting too deep"
        case extraData = "extra data after the JSON value"
    }

    public var kind: Kind
    /// Byte offset of the problem, from the start of the parsed buffer.
    public var offset: Int
    public var detail: String

    public init(_ kind: Kind, at offset: Int, _ detail: String = "") {
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }

    /// The same error, with its offset moved by `base` (for a record that starts at `base` in a file).
    public func shifted(by base: Int) -> JSONError {
        JSONError(kind, at: offset + base, detail)
    }

    public var description: String {
        detail.isEmpty ? "\(kind.rawValue) at byte \(offset)" : "\(kind.rawValue) at byte \(offset): \(detail)"
    }
}
