import ArgumentParser
import BPE
import ByteJSON
import Foundation
import Jinja
import TrajForge

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render trajectories with a model's chat template into SFT samples with supervised spans.",
        discussion: """
            The template is the model's own Jinja chat template, run by trajforge's
            jinja2-compatible engine with the variables transformers passes
            (messages with the system prompt first, tools, documents,
            add_generation_prompt, the special tokens, --var extras).

            --template takes a built-in (\(BuiltinTemplate.all.map(\.name).joined(separator: ", "))),
            a .jinja file, a tokenizer_config.json, or a model folder.

            --mode per-turn (default; the APIGen-MT recipe) makes one sample per
            assistant reply: the conversation through that reply, the reply
            supervised. --mode all-turns makes one sample per trajectory with
            every reply supervised (needs a template whose renders only grow).

            A supervised span is the reply as the template renders it (its text,
            its tool calls) through its end-of-turn token. Spans are found by
            prefix rendering where the template allows it, else by a sentinel
            that stands in for the reply; each sample says which. Samples with
            no span, or no end-of-turn token, are dropped with a reason;
            a trajectory that yields no sample is dropped too.

            With --tokenizer, samples get input_ids and labels (-100 outside the
            spans; --labels masks writes assistant_masks instead). The text is
            encoded with special tokens parsed and none added: the template
            already wrote BOS. --max-tokens with --truncate drop (default),
            keep-start or keep-end; a sample left without supervised tokens
            is dropped.

            Outputs (--to): rendered (text, spans, template sha256, provenance),
            trl (per-turn prompt/completion or messages, with tools), sharegpt
            (LLaMA-Factory, each conversation ending at its supervised reply).

            --trace writes every template render (variables and output) for
            tools/render_conformance.py to replay with Python jinja2.

            Examples:
              trajforge render --template xlam2-llama retail.jsonl -o sft.jsonl
              trajforge render --template models/xLAM-2-3b-fc-r \\
                  --tokenizer models/xLAM-2-3b-fc-r --max-tokens 16384 \\
                  retail.jsonl -o sft.tok.jsonl.zst
              trajforge render --template llama3.1 --var tools_in_user_message=false \\
                  --date 2025-04-07 retail.jsonl -o sft.jsonl
            """)

    @Option(help: ArgumentHelp("Chat template: a built-in name, a .jinja file, a tokenizer_config.json or a model folder.", valueName: "template"))
    var template: String

    @Option(help: ArgumentHelp("Which named template of a tokenizer_config.json with several (e.g. tool_use).", valueName: "name"))
    var templateVariant: String?

    @Option(help: ArgumentHelp("Pass tools wrapped ({type, function}) or raw (default: what the template expects).", valueName: "form"))
    var toolForm: String?

    @Option(help: ArgumentHelp("per-turn (one sample per reply) or all-turns (one per trajectory).", valueName: "mode"))
    var mode: String = "per-turn"

    @Option(name: .customLong("to"), help: ArgumentHelp("Output: rendered, trl or sharegpt.", valueName: "format"))
    var to: String = "rendered"

    @Option(help: ArgumentHelp("Give the template tool-call arguments as objects or JSON strings.", valueName: "object|string"))
    var arguments: String = "object"

    @Option(name: .customLong("var"), help: ArgumentHelp("Extra template variable KEY=VALUE (VALUE is JSON if it parses, else a string). Repeatable.", valueName: "key=value"))
    var variables: [String] = []

    @Option(help: ArgumentHelp("Pin strftime_now and date_string to this day (YYYY-MM-DD) for reproducible output.", valueName: "date"))
    var date: String?

    @Flag(help: "Keep samples whose span has no end-of-turn token.")
    var allowMissingEot = false

    @Option(help: ArgumentHelp("tokenizer.json or model folder: add input_ids and labels.", valueName: "path"))
    var tokenizer: String?

    @Option(help: ArgumentHelp("Token limit per sample (with --tokenizer).", valueName: "n"))
    var maxTokens: Int?

    @Option(help: ArgumentHelp("Over --max-tokens: drop, keep-start or keep-end.", valueName: "policy"))
    var truncate: String = "drop"

    @Option(help: ArgumentHelp("labels (-100 outside spans) or masks (assistant_masks).", valueName: "form"))
    var labels: String = "labels"

    @Option(help: ArgumentHelp("Write every template render (variables, output) as JSONL.", valueName: "path"))
    var trace: String?

    @OptionGroup var io: RecordIOOptions
    @OptionGroup var dropsOption: DropsOption

    @Argument(help: ArgumentHelp("Canonical trajectory files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    func validate() throws {
        guard RenderMode(rawValue: mode) != nil else { throw ValidationError("--mode must be per-turn or all-turns") }
        guard RenderOutput(rawValue: to) != nil else { throw ValidationError("--to must be rendered, trl or sharegpt") }
        guard ArgumentsForm(rawValue: arguments) != nil else { throw ValidationError("--arguments must be object or string") }
        if let toolForm, ToolForm(rawValue: toolForm) == nil { throw ValidationError("--tool-form must be wrapped or raw") }
        guard Truncation(rawValue: truncate) != nil else { throw ValidationError("--truncate must be drop, keep-start or keep-end") }
        guard LabelForm(rawValue: labels) != nil else { throw ValidationError("--labels must be labels or masks") }
        if maxTokens != nil && tokenizer == nil { throw ValidationError("--max-tokens needs --tokenizer") }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be positive") }
        if tokenizer != nil && to != "rendered" { throw ValidationError("--tokenizer applies to --to rendered") }
        for v in variables where !v.contains("=") { throw ValidationError("--var takes KEY=VALUE (got \(v))") }
        if let date, RenderCommand.parseDate(date) == nil { throw ValidationError("--date takes YYYY-MM-DD (got \(date))") }
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
    }

    static func parseDate(_ s: String) -> CivilDateTime? {
        let parts = s.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        return CivilDateTime(year: parts[0], month: parts[1], day: parts[2])
    }

    func run() throws {
        var options = SFTRenderOptions()
        for v in variables {
            let key = String(v[..<v.firstIndex(of: "=")!])
            let text = String(v[v.index(after: v.firstIndex(of: "=")!)...])
            options.variables[key] = (try? JSON.parse(text)) ?? .string(text)
        }
        let chat: ChatTemplate
        do {
            chat = try ChatTemplate.load(template, variant: templateVariant, toolForm: toolForm.flatMap(ToolForm.init(rawValue:)))
                .overridingSpecialTokens(from: options.variables)
        } catch {
            printError("error: --template: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
        options.mode = RenderMode(rawValue: mode)!
        options.output = RenderOutput(rawValue: to)!
        options.arguments = ArgumentsForm(rawValue: arguments)!
        options.date = date.flatMap(RenderCommand.parseDate)
        options.allowMissingEndOfTurn = allowMissingEot
        options.threads = io.threadCount
        options.limits = io.limits
        if let tokenizer {
            do {
                var t = TokenizationOptions(tokenizer: try Tokenizer(tokenizerJSONPath: tokenizer), endOfTurn: chat.endOfTurn)
                t.maxTokens = maxTokens
                t.truncation = Truncation(rawValue: truncate)!
                t.labels = LabelForm(rawValue: labels)!
                options.tokenization = t
            } catch {
                printError("error: --tokenizer: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        try runStage(io, drops: dropsOption) { files in
            let traceFile = try trace.map { try OutputFile(path: $0, compression: Compression.forOutputPath($0) == .none ? OutputCompression(.none) : OutputCompression(Compression.forOutputPath($0))) }
            if let traceFile { files.extra.append(traceFile) }
            let renderer = SFTRenderer(template: chat, options: options)
            try renderer.run(inputs: inputs, output: files.output, rejects: files.rejects, drops: files.drops, trace: traceFile)
            var ledger = renderer.ledger
            ledger.note("template \(chat.name) (sha256 \(chat.sha256.prefix(16))…), tools \(chat.toolForm.rawValue), end of turn \(chat.endOfTurn.joined(separator: " "))")
            return ledger
        }
    }
}
