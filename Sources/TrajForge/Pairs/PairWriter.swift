import ByteJSON

/// Writes pairs in the chosen output format.
enum PairWriter {
    static func messages(_ p: PreferencePair, _ ms: [Message], _ form: ArgumentsForm) -> JSON {
        .array(ms.map { ChatContext.message($0, arguments: form) })
    }

    static func promptMessages(_ p: PreferencePair, _ form: ArgumentsForm) -> JSON {
        var out: [JSON] = []
        if let s = p.system { out.append(["role": "system", "content": .string(s)]) }
        out += p.prompt.map { ChatContext.message($0, arguments: form) }
        return .array(out)
    }

    /// The tools as the template will receive them (TRL passes the column on unchanged).
    static func tools(_ p: PreferencePair, _ options: PairOptions) -> JSON {
        .array(options.toolForm == .raw ? p.tools.map { $0["function"] ?? $0 } : p.tools)
    }

    /// Per completion message: is it trained on? Only assistant turns are; user and tool turns
    /// inside a whole-trajectory completion are context (TRL itself trains on every completion
    /// token, so mask these in a custom collator, or use --to rendered, whose labels do).
    static func supervised(_ ms: [Message]) -> JSON {
        .array(PreferencePair.supervised(ms).map(JSON.bool))
    }

    static func common(_ p: PreferencePair, into o: inout JSONObject) {
        o["strategy"] = .string(p.strategy)
        o["group"] = p.group.map(JSON.string) ?? .null
        o["deviation"] = p.deviationJSON
        o["sources"] = ["chosen": .string(p.chosenFrom), "rejected": .string(p.rejectedSource)]
    }

    /// Appends the pair's line(s); returns how many records were written.
    static func write(_ p: PreferencePair, options: PairOptions, into lines: inout [UInt8]) -> Result<Int, PairFailure> {
        let form = options.arguments
        var records: [JSON] = []
        let output = options.strategy == .kto && options.output == .trlDPO ? PairOutput.trlKTO : options.output
        switch output {
        case .trlDPO:
            var o: JSONObject = ["id": .string(p.id), "prompt": promptMessages(p, form),
                                 "chosen": messages(p, p.chosen, form), "rejected": messages(p, p.rejected, form), "tools": tools(p, options)]
            o["chosen_supervised"] = supervised(p.chosen)
            o["rejected_supervised"] = supervised(p.rejected)
            common(p, into: &o)
            records.append(.object(o))
        case .trlKTO:
            for (completion, label, suffix) in [(p.chosen, true, "+"), (p.rejected, false, "-")] {
                var o: JSONObject = ["id": .string(p.id + suffix), "prompt": promptMessages(p, form),
                                     "completion": messages(p, completion, form), "label": .bool(label), "tools": tools(p, options),
                                     "completion_supervised": supervised(completion)]
                common(p, into: &o)
                records.append(.object(o))
            }
        case .sharegpt:
            guard p.chosen.count == 1, p.rejected.count == 1 else {
                return .failure(PairFailure("multi-turn-completion", "LLaMA-Factory ranking data holds one chosen and one rejected message; use --to trl-dpo or rendered"))
            }
            guard p.prompt.last?.role == .user || p.prompt.last?.role == .tool else {
                return .failure(PairFailure("prompt-not-user-side", "LLaMA-Factory needs the prompt to end with a user turn or a tool result"))
            }
            var context = Trajectory(id: p.id, source: Provenance(format: "pairs", file: ""), system: p.system, tools: p.tools, messages: p.prompt)
            var (record, _) = Exporter.shareGPTRecord(context, arguments: form)
            func turn(_ m: Message) -> JSON {
                context.messages = [m]
                return Exporter.shareGPTRecord(context, arguments: form).0["conversations"]?.array?.first ?? .null
            }
            record["chosen"] = turn(p.chosen[0])
            record["rejected"] = turn(p.rejected[0])
            record["id"] = .string(p.id)
            common(p, into: &record)
            records.append(.object(record))
        case .rendered:
            guard let template = options.template else { return .failure(PairFailure("no-template", "--to rendered needs --template")) }
            switch PairRendering.render(p, template: template, options: options) {
            case .success(let o): records.append(.object(o))
            case .failure(let e): return .failure(e)
            }
        }
        for r in records {
            JSONWriter.compact.write(r, into: &lines)
            lines.append(0x0A)
        }
        return .success(records.count)
    }
}

/// Pairs rendered with a chat template: the prompt with its generation prompt, and each
/// completion as the text the template adds after it, with the supervised spans of the
/// completion's assistant turns (user and tool turns inside a trajectory-level completion are
/// not supervised). With a tokenizer, the prompt's tokens must be an exact prefix of
/// prompt+completion tokens (the check TRL only warns about), and no completion may end with a
/// doubled end-of-turn token.
enum PairRendering {
    struct Side {
        var text: [UInt8]
        var spans: [Range<Int>]
        var full: [UInt8]
    }

    static func render(_ p: PreferencePair, template: ChatTemplate, options: PairOptions) -> Result<JSONObject, PairFailure> {
        var renderOptions = SFTRenderOptions()
        renderOptions.arguments = options.arguments
        renderOptions.variables = options.variables
        renderOptions.date = options.date
        var promptText: [UInt8] = []
        var sides: [Side] = []
        for completion in [p.chosen, p.rejected] {
            let t = Trajectory(id: p.id, source: Provenance(format: "pairs", file: ""), system: p.system, tools: p.tools,
                               messages: p.prompt + completion)
            var session = RenderSession(t, template: template, options: renderOptions, tracing: false)
            let first = session.context.offset + p.prompt.count
            guard case .success(let prompt) = session.render(count: first, generationPrompt: true) else {
                return .failure(PairFailure("template-error", "the prompt does not render"))
            }
            if sides.isEmpty { promptText = prompt } else if prompt != promptText {
                return .failure(PairFailure("prompt-differs", "the two sides render different prompts"))
            }
            var spans: [Range<Int>] = []
            var full: [UInt8] = prompt
            for (k, m) in completion.enumerated() where m.role == .assistant {
                switch session.turn(first + k) {
                case .failure(.drop(let reason, let detail)):
                    return .failure(PairFailure(reason, detail))
                case .success(let (text, span)):
                    guard span.range.lowerBound >= prompt.count, hasPrefix(text, full) else {
                        return .failure(PairFailure("prompt-not-prefix",
                                                    "the template does not render prompt+completion as the prompt followed by the completion"))
                    }
                    full = text
                    spans.append(span.range)
                }
            }
            sides.append(Side(text: Array(full[prompt.count...]), spans: spans.map { ($0.lowerBound - prompt.count)..<($0.upperBound - prompt.count) }, full: full))
        }
        var o: JSONObject = ["id": .string(p.id)]
        PairWriter.common(p, into: &o)
        o["template"] = ["name": .string(template.name), "sha256": .string(template.sha256)]
        o["prompt"] = .string(String(decoding: promptText, as: UTF8.self))
        for (name, side) in zip(["chosen", "rejected"], sides) {
            o[name] = .string(String(decoding: side.text, as: UTF8.self))
            o[name + "_spans"] = .array(side.spans.map { r in
                let lo = scalarCount(side.text, 0..<r.lowerBound)
                return .array([.number(JSONNumber(lo)), .number(JSONNumber(lo + scalarCount(side.text, r)))])
            })
        }
        if let tokenization = options.tokenization {
            let promptIDs = tokenization.tokenizer.encode(String(decoding: promptText, as: UTF8.self), parseSpecial: true)
            o["prompt_input_ids"] = .array(promptIDs.map { .number(JSONNumber(Int($0))) })
            for (name, side) in zip(["chosen", "rejected"], sides) {
                let fullSpans = side.spans.map { ($0.lowerBound + promptText.count)..<($0.upperBound + promptText.count) }
                var t = tokenization
                t.maxTokens = nil
                guard case .success(let tokens) = t.tokenize(text: String(decoding: side.full, as: UTF8.self), bytes: side.full, spans: fullSpans),
                      case .array(let ids)? = tokens.fields["input_ids"]
                else {
                    return .failure(PairFailure("end-of-turn-not-tokenized", "the \(name) completion does not end its turns with an end-of-turn token"))
                }
                let all = ids.map { Int32($0.int!) }
                guard all.count > promptIDs.count, Array(all.prefix(promptIDs.count)) == promptIDs else {
                    return .failure(PairFailure("prompt-tokens-not-prefix",
                                                "the prompt's tokens are not a prefix of prompt+\(name) tokens (a token crosses the boundary)"))
                }
                let completion = Array(all[promptIDs.count...])
                if completion.count >= 2, tokenization.endOfTurnIDs.contains(completion[completion.count - 1]),
                   tokenization.endOfTurnIDs.contains(completion[completion.count - 2])
                {
                    return .failure(PairFailure("doubled-end-of-turn", "the \(name) completion ends with two end-of-turn tokens"))
                }
                o[name + "_input_ids"] = .array(completion.map { .number(JSONNumber(Int($0))) })
                if case .array(let labels)? = tokens.fields["labels"] {
                    o[name + "_labels"] = .array(Array(labels[promptIDs.count...]))
                } else if case .array(let masks)? = tokens.fields["assistant_masks"] {
                    o[name + "_assistant_masks"] = .array(Array(masks[promptIDs.count...]))
                }
            }
        }
        return .success(o)
    }
}
