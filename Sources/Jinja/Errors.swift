// One error type for everything that can go wrong compiling or rendering a template. Where Python
// jinja2 raises, we raise too; `kind` says which Python exception it corresponds to.

/// An error from compiling or rendering a template, with where it happened.
public struct TemplateError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// `TemplateSyntaxError` / `TemplateAssertionError`: the template does not parse or compile.
        case syntax
        /// `UndefinedError`: an operation on an undefined value.
        case undefined
        /// `TypeError`: an operation on values of the wrong type.
        case type
        /// `ValueError`: a right type with a wrong value (e.g. bad unpacking, bad int literal).
        case value
        /// `KeyError` / `IndexError` raised by a method such as `list.index`.
        case lookup
        /// `AttributeError`.
        case attribute
        /// `ZeroDivisionError` / `OverflowError` (including ints beyond 64 bits, which Python would allow).
        case arithmetic
        /// `SecurityError`: the sandbox refused an attribute, a call or a name.
        case security
        /// `TemplateRuntimeError` / `FilterArgumentError` / `RuntimeError`.
        case runtime
        /// `TemplateError` raised by the template itself through `raise_exception(msg)`.
        case raised
        /// The budget's call depth was exceeded (Python raises `RecursionError` near the same depth).
        case recursionLimit
        /// The budget's total loop iterations were exceeded.
        case loopLimit
        /// The budget's output size was exceeded.
        case outputLimit
        /// A jinja2 feature this implementation deliberately does not provide.
        case unsupported
    }

    public var kind: Kind
    public var message: String
    /// The template's name as given to `Template(source:name:)`.
    public var templateName: String
    /// 1-based line and column (in Unicode scalars) of the construct that failed; 0 when unknown.
    public var line: Int
    public var column: Int

    public init(_ kind: Kind, _ message: String, templateName: String = "", line: Int = 0, column: Int = 0) {
        self.kind = kind
        self.message = message
        self.templateName = templateName
        self.line = line
        self.column = column
    }

    /// `template NAME:LINE:COL: message`
    public var description: String {
        var s = "template \(templateName.isEmpty ? "<string>" : templateName)"
        if line > 0 { s += ":\(line):\(column)" }
        return s + ": " + message
    }

    /// The Python exception class name jinja2 would raise for this kind (for cross-checking).
    public var pythonClassNames: Set<String> {
        switch kind {
        case .syntax: ["TemplateSyntaxError", "TemplateAssertionError"]
        case .undefined: ["UndefinedError"]
        case .type: ["TypeError"]
        case .value: ["ValueError"]
        case .lookup: ["KeyError", "IndexError", "LookupError"]
        case .attribute: ["AttributeError"]
        case .arithmetic: ["ZeroDivisionError", "OverflowError"]
        case .security: ["SecurityError"]
        case .runtime: ["TemplateRuntimeError", "FilterArgumentError", "RuntimeError", "AssertionError"]
        case .raised: ["TemplateError"]
        case .recursionLimit: ["RecursionError"]
        case .loopLimit, .outputLimit, .unsupported: []
        }
    }

    var hasLocation: Bool { line > 0 }
}

/// A byte offset into the template source, resolved to line:column only when an error is reported.
struct SourcePos: Sendable {
    var offset: Int32
    static let unknown = SourcePos(offset: -1)
    init(offset: Int32) { self.offset = offset }
    init(_ offset: Int) { self.offset = Int32(truncatingIfNeeded: offset) }
}

/// Resolves byte offsets to 1-based (line, column) for error messages.
struct SourceMap: Sendable {
    let bytes: [UInt8]
    let name: String

    func lineColumn(_ pos: SourcePos) -> (Int, Int) {
        guard pos.offset >= 0 else { return (0, 0) }
        let end = min(Int(pos.offset), bytes.count)
        var line = 1
        var col = 1
        var i = 0
        while i < end {
            let b = bytes[i]
            if b == 0x0A {
                line += 1
                col = 1
            } else if b == 0x0D {
                // \r\n counts once; lone \r is a newline too (jinja normalizes both).
                if i + 1 < bytes.count, bytes[i + 1] == 0x0A {} else {
                    line += 1
                    col = 1
                }
            } else if b & 0xC0 != 0x80 {
                col += 1
            }
            i += 1
        }
        return (line, col)
    }

    func locate(_ error: TemplateError, at pos: SourcePos) -> TemplateError {
        var e = error
        if e.templateName.isEmpty { e.templateName = name }
        if !e.hasLocation {
            let (l, c) = lineColumn(pos)
            e.line = l
            e.column = c
        }
        return e
    }
}
