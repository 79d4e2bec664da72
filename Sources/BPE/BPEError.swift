/// Errors raised while loading a tokenizer. Every unsupported component is rejected by name at load
/// time; nothing falls back silently.
public enum BPEError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read.
    case io(path: String, message: String)
    /// The file is not valid JSON or lacks a required field.
    case malformed(String)
    /// A component (normalizer, pre-tokenizer, model, post-processor, decoder) or option this library
    /// does not implement. `component` names where it was found, e.g. `pre_tokenizer.pretokenizers[0]`.
    case unsupported(component: String, detail: String)

    public var description: String {
        switch self {
        case .io(let path, let message): return "cannot read \(path): \(message)"
        case .malformed(let m): return "malformed tokenizer: \(m)"
        case .unsupported(let c, let d): return "unsupported tokenizer component \(c): \(d)"
        }
    }
}
