import ArgumentParser
import BPE
import ByteJSON
import Foundation
import TrajForge

struct PairsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairs",
        abstract: "Build preference pairs (DPO / KTO) from failed rollouts of the same tasks.",
        discussion: """
            Rollouts are grouped by task (--group-by: the group from ingest,
            else the task instruction), across input files and models; pairs
            come out in the order of each task's first rollout.

            Strategies (--strategy):
              correction        (default) a failed rollout's first write call that
                                deviates from the reference actions: wrong
                                arguments for a reference tool, a write tool the
                                reference does not call, or a text reply where a
                                reference action was due (right after the user
                                confirmed, with its values known). The prompt is
                                the rollout's own prefix; rejected is its turn;
                                chosen is the reference call (fresh call id).
                                Reference: the task's ground-truth actions, else a
                                verified rollout's calls. Reads (get_, find_,
                                list_, search_, calculate, think, transfers) are
                                exploration and never compared.
              first-divergence  a verified and a failed rollout with identical
                                contexts up to the first assistant difference.
              trajectory        whole verified vs whole failed rollouts; only
                                assistant turns are supervised.
              kto               the correction analysis as unpaired desirable /
                                undesirable turns.

            Outputs (--to): trl-dpo {prompt, chosen, rejected, tools} message
            lists; trl-kto {prompt, completion, label, tools}; sharegpt
            (LLaMA-Factory ranking; --dataset-name registers it); rendered (with
            --template, and --tokenizer for ids and labels: the prompt's tokens
            are checked to be an exact prefix of prompt+completion, and a doubled
            end-of-turn token is refused). TRL records flag which completion
            messages are assistant turns (*_supervised); TRL trains on the whole
            completion, so whole-trajectory pairs want --to rendered (its labels
            mask user and tool turns) or a collator that reads the flags.
            xLAM-2 templates expect raw tool schemas: use --tool-form raw when
            TRL will apply one.

            Every rollout that gives no pair is in the drops file with why
            (no-deviation-found, reference-missing, ambiguous-alignment,
            missing-action-not-confirmed, user-diverged-first, …). --stats writes
            pairs per task and strategy, deviation kinds, wrong arguments,
            deviation positions and refused candidate pairs.

            Examples:
              trajforge pairs retail.jsonl -o pairs.dpo.jsonl --stats pairs.stats.json
              trajforge pairs retail.jsonl --tool-form raw -o xlam.dpo.jsonl
              trajforge pairs base.jsonl sft-model.jsonl --strategy first-divergence \\
                  -o pairs.jsonl
              trajforge pairs retail.jsonl --to rendered --template xlam2-llama \\
                  --tokenizer models/Llama-3.1-8B-Instruct -o pairs.tok.jsonl
            """)

    @Option(help: ArgumentHelp("correction, first-divergence, trajectory or kto.", valueName: "strategy"))
    var strategy: String = "correction"

    @Option(name: .customLong("to"), help: ArgumentHelp("trl-dpo, trl-kto, sharegpt or rendered (default: trl-dpo; trl-kto for --strategy kto).", valueName: "format"))
    var to: String?

    @Option(help: ArgumentHelp("Tool-call arguments as objects or JSON strings.", valueName: "object|string"))
    var arguments: String = "object"

    @Option(help: ArgumentHelp("Exactly these tools are writes (comma-separated); default: every tool that is not a read.", valueName: "names"))
    var writeTools: String?

    @Option(help: ArgumentHelp("Extra tools to treat as reads (comma-separated).", valueName: "names"))
    var readTools: String?

    @Option(help: ArgumentHelp("Keep at most this many pairs per task (seeded choice).", valueName: "n"))
    var maxPairsPerTask: Int?

    @Option(help: ArgumentHelp("Pairs a failed rollout may join (first-divergence, trajectory).", valueName: "n"))
    var maxPairsPerRollout: Int = 1

    @Option(help: ArgumentHelp("Seed for choices under the limits.", valueName: "n"))
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Chat template for --to rendered (built-in name, .jinja, tokenizer_config.json or folder).", valueName: "template"))
    var template: String?

    @Option(help: ArgumentHelp("tokenizer.json or model folder: add token ids and labels (--to rendered).", valueName: "path"))
    var tokenizer: String?

    @Option(help: ArgumentHelp("What makes rollouts the same task: task (the group from ingest, domain:task id) or instruction (the task's instruction text, for runs whose task ids differ).", valueName: "key"))
    var groupBy: String = "task"

    @Option(help: ArgumentHelp("How tool schemas reach the template: wrapped ({type, function}) or raw (the function object, as xLAM-2 expects). For trl-dpo/trl-kto it is the tools column TRL passes on (default wrapped); for rendered the default is the template's.", valueName: "form"))
    var toolForm: String?

    @Option(help: ArgumentHelp("Pin strftime_now and date_string to this day (YYYY-MM-DD) for reproducible output (--to rendered).", valueName: "date"))
    var date: String?

    @Option(name: .customLong("var"), help: ArgumentHelp("Extra template variable KEY=VALUE (repeatable).", valueName: "key=value"))
    var variables: [String] = []

    @Option(help: ArgumentHelp("Write pair statistics as JSON.", valueName: "path"))
    var stats: String?

    @Option(help: ArgumentHelp("Register the output in LLaMA-Factory's dataset_info.json (--to sharegpt).", valueName: "name"))
    var datasetName: String?

    @Option(help: ArgumentHelp("Temporary buckets used to gather each task's rollouts (memory ~ input / buckets).", valueName: "n"))
    var buckets: Int = 64

    @OptionGroup var io: RecordIOOptions
    @OptionGroup var dropsOption: DropsOption

    @Argument(help: ArgumentHelp("Canonical trajectory files (several files: rollouts of the same tasks from different runs or models).", valueName: "input"))
    var inputs: [String]

    var output: PairOutput { to.flatMap(PairOutput.init(rawValue:)) ?? (strategy == "kto" ? .trlKTO : .trlDPO) }

    func validate() throws {
        guard let s = PairStrategy(rawValue: strategy) else { throw ValidationError("--strategy must be correction, first-divergence, trajectory or kto") }
        if let to, PairOutput(rawValue: to) == nil { throw ValidationError("--to must be trl-dpo, trl-kto, sharegpt or rendered") }
        guard ArgumentsForm(rawValue: arguments) != nil else { throw ValidationError("--arguments must be object or string") }
        if output == .rendered && template == nil { throw ValidationError("--to rendered needs --template") }
        if tokenizer != nil && output != .rendered { throw ValidationError("--tokenizer applies to --to rendered") }
        if output == .sharegpt && s == .trajectory { throw ValidationError("LLaMA-Factory ranking data holds single messages: use --to trl-dpo or rendered with --strategy trajectory") }
        if datasetName != nil && (output != .sharegpt || io.output == "-") { throw ValidationError("--dataset-name needs --to sharegpt and an output file") }
        if maxPairsPerRollout < 1 || (maxPairsPerTask ?? 1) < 1 || buckets < 1 { throw ValidationError("limits and --buckets must be positive") }
        for v in variables where !v.contains("=") { throw ValidationError("--var takes KEY=VALUE (got \(v))") }
        guard PairGrouping(rawValue: groupBy) != nil else { throw ValidationError("--group-by must be task or instruction") }
        if let toolForm, ToolForm(rawValue: toolForm) == nil { throw ValidationError("--tool-form must be wrapped or raw") }
        if toolForm != nil && output == .sharegpt { throw ValidationError("--tool-form applies to trl-dpo, trl-kto and rendered (ShareGPT tools are always raw)") }
        if let date, RenderCommand.parseDate(date) == nil { throw ValidationError("--date takes YYYY-MM-DD (got \(date))") }
        if (date != nil || !variables.isEmpty) && output != .rendered { throw ValidationError("--date and --var apply to --to rendered") }
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
    }

    static func list(_ s: String?) -> Set<String>? {
        s.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }) }
    }

    func run() throws {
        var options = PairOptions()
        options.strategy = PairStrategy(rawValue: strategy)!
        options.output = output
        options.arguments = ArgumentsForm(rawValue: arguments)!
        options.grouping = PairGrouping(rawValue: groupBy)!
        options.toolForm = toolForm.flatMap(ToolForm.init(rawValue:))
        options.kinds.writes = PairsCommand.list(writeTools)
        options.kinds.reads = PairsCommand.list(readTools) ?? []
        options.maxPerTask = maxPairsPerTask
        options.maxPerRollout = maxPairsPerRollout
        options.seed = seed
        options.threads = io.threadCount
        options.limits = io.limits
        if let template {
            var vars = JSONObject()
            for v in variables {
                let key = String(v[..<v.firstIndex(of: "=")!])
                let text = String(v[v.index(after: v.firstIndex(of: "=")!)...])
                vars[key] = (try? JSON.parse(text)) ?? .string(text)
            }
            options.variables = vars
            options.date = date.flatMap(RenderCommand.parseDate)
            do {
                let chat = try ChatTemplate.load(template, toolForm: options.toolForm).overridingSpecialTokens(from: vars)
                options.template = chat
                if let tokenizer {
                    options.tokenization = TokenizationOptions(tokenizer: try Tokenizer(tokenizerJSONPath: tokenizer), endOfTurn: chat.endOfTurn)
                }
            } catch {
                printError("error: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        var statistics = PairStatistics()
        try runStage(io, drops: dropsOption) { files in
            let builder = PairBuilder(options: options)
            try builder.run(inputs: inputs, output: files.output, rejects: files.rejects, drops: files.drops, buckets: buckets)
            statistics = builder.statistics
            var ledger = builder.ledger
            for line in statistics.summary { ledger.note(line) }
            if let stats {
                let file = try OutputFile(path: stats, compression: OutputCompression(.none))
                try file.write(statistics.json.serializedBytes(.pretty) + [0x0A])
                files.extra.append(file)
            }
            return ledger
        }
        if let datasetName {
            let url = URL(fileURLWithPath: io.output)
            let infoPath = url.deletingLastPathComponent().appendingPathComponent("dataset_info.json").path
            do {
                try DatasetInfo.merge(path: infoPath, name: datasetName, entry: DatasetInfo.entry(fileName: url.lastPathComponent, format: .sharegpt, ranking: true))
            } catch {
                printError("error: \(infoPath): \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
            printError("dataset_info: registered \(datasetName) (ranking) in \(infoPath)")
        }
    }
}
