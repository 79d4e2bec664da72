import ByteJSON
import Crypto
import Foundation
import Jinja

/// A model's chat template, ready to render: the Jinja source (pinned by SHA-256), the special
/// tokens transformers passes to it, the tool-schema form it wants, and the strings that end an
/// assistant turn (to end supervised spans).
public struct ChatTemplate: Sendable {
    public let name: String
    public let source: String
    public let sha256: String
    public let template: Template
    /// What transformers' `special_tokens_map` gives the template (only tokens that are set).
    public var specialTokens: [String: JSON]
    public var toolForm: ToolForm
    /// Strings that close an assistant turn, longest first.
    public var endOfTurn: [String]

    /// Known end-of-turn markers, recognised when the template source contains them.
    static let knownEndMarkers = ["<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>"]

    public init(name: String, source: String, specialTokens: [String: JSON], toolForm: ToolForm? = nil) throws(TemplateError) {
        self.name = name
        self.source = source
        let digest = SHA256.hash(data: Array(source.utf8))
        sha256 = digest.map { String(format: "%02x", $0) }.joined()
        template = try Template(source: source, name: name)
        self.specialTokens = specialTokens
        self.toolForm = toolForm ?? (source.contains("xLAM") ? .raw : .wrapped)
        var markers = ChatTemplate.knownEndMarkers.filter { source.contains($0) }
        if let eos = specialTokens["eos_token"]?.string, !eos.isEmpty, !markers.contains(eos) { markers.append(eos) }
        endOfTurn = markers.sorted { $0.utf8.count > $1.utf8.count }
    }

    /// Loads `spec`: a built-in name (see `BuiltinTemplate.all`), a `.jinja` file, a
    /// `tokenizer_config.json`, or a model folder (its `chat_template.jinja` or tokenizer_config).
    /// `variant` picks one of several named templates (e.g. "tool_use").
    public static func load(_ spec: String, variant: String? = nil, toolForm: ToolForm? = nil) throws -> ChatTemplate {
        if let builtin = BuiltinTemplate.named(spec), !FileManager.default.fileExists(atPath: spec) {
            return try ChatTemplate(name: builtin.name, source: builtin.source,
                                    specialTokens: builtin.specialTokens.mapValues(JSON.string), toolForm: toolForm ?? builtin.toolForm)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isDirectory) else {
            throw TemplateLoadError("\(spec): no such file or folder, and not a built-in template (built-ins: \(BuiltinTemplate.all.map(\.name).joined(separator: ", ")))")
        }
        if isDirectory.boolValue {
            let folder = URL(fileURLWithPath: spec)
            let config = folder.appendingPathComponent("tokenizer_config.json").path
            let jinjaFile = folder.appendingPathComponent("chat_template.jinja").path
            var tokens: [String: JSON] = [:]
            var configTemplate: String?
            if FileManager.default.fileExists(atPath: config) {
                (configTemplate, tokens) = try readTokenizerConfig(config, variant: variant)
            }
            // transformers prefers a separate chat_template.jinja when the folder has one.
            if FileManager.default.fileExists(atPath: jinjaFile) {
                return try ChatTemplate(name: jinjaFile, source: try String(contentsOfFile: jinjaFile, encoding: .utf8),
                                        specialTokens: tokens, toolForm: toolForm)
            }
            guard let configTemplate else { throw TemplateLoadError("\(spec): no chat_template.jinja and no chat_template in tokenizer_config.json") }
            return try ChatTemplate(name: config, source: configTemplate, specialTokens: tokens, toolForm: toolForm)
        }
        if spec.hasSuffix(".json") {
            let (source, tokens) = try readTokenizerConfig(spec, variant: variant)
            guard let source else { throw TemplateLoadError("\(spec): has no chat_template") }
            return try ChatTemplate(name: spec, source: source, specialTokens: tokens, toolForm: toolForm)
        }
        return try ChatTemplate(name: spec, source: try String(contentsOfFile: spec, encoding: .utf8), specialTokens: [:], toolForm: toolForm)
    }

    /// The chat template and special tokens of a tokenizer_config.json.
    static func readTokenizerConfig(_ path: String, variant: String?) throws -> (String?, [String: JSON]) {
        let json: JSON
        do { json = try JSON.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))) } catch {
            throw TemplateLoadError("\(path): not valid JSON (\(error))")
        }
        guard case .object(let o) = json else { throw TemplateLoadError("\(path): not a JSON object") }
        var tokens: [String: JSON] = [:]
        for key in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] {
            switch o[key] {
            case .string(let s)?: tokens[key] = .string(s)
            case .object(let t)?: if let s = t["content"]?.string { tokens[key] = .string(s) }
            default: break
            }
        }
        if case .array(let extra)? = o["additional_special_tokens"], !extra.isEmpty {
            tokens["additional_special_tokens"] = .array(extra.map { $0["content"] ?? $0 })
        }
        var source: String?
        switch o["chat_template"] {
        case .string(let s)?: source = s
        case .array(let named)?:
            let wanted = variant ?? "default"
            guard let match = named.first(where: { $0["name"]?.string == wanted }), let s = match["template"]?.string else {
                let names = named.compactMap { $0["name"]?.string }
                throw TemplateLoadError("\(path): no chat template named \"\(wanted)\" (it has: \(names.joined(separator: ", ")); pick one with --template-variant)")
            }
            source = s
        default: source = nil
        }
        return (source, tokens)
    }

    /// This template with special tokens set by the user (`--var bos_token=…`): they are template
    /// variables, and `eos_token` also ends supervised spans.
    public func overridingSpecialTokens(from variables: JSONObject) throws(TemplateError) -> ChatTemplate {
        var tokens = specialTokens
        var changed = false
        for m in variables where m.key.hasSuffix("_token") || m.key == "additional_special_tokens" {
            tokens[m.key] = m.value
            changed = true
        }
        return changed ? try ChatTemplate(name: name, source: source, specialTokens: tokens, toolForm: toolForm) : self
    }

    /// True when the template reads the clock (`strftime_now`): pin it with --date for reproducible output.
    public var readsClock: Bool { source.contains("strftime_now") }
}

public struct TemplateLoadError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
