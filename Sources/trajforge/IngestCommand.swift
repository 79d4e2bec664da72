import ArgumentParser
import ByteJSON
import TrajForge

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Convert raw rollouts into canonical trajectories (one JSON object per line).",
        discussion: """
            Formats (--from):
              apigen-mt   APIGen-MT-5k: LLaMA-Factory ShareGPT, all records verified
              sharegpt    LLaMA-Factory ShareGPT (human/gpt/function_call/observation)
              tau-bench   tau-bench v1 results: [{task_id, reward, info, traj, trial}]
              tau2-bench  tau2-bench results: {info, tasks, simulations} per file
              openai      OpenAI chat records {messages, tools} (TRL, axolotl)
              auto        decide per file from the first record (default)

            Inputs: .json (a top-level array, streamed), .jsonl, a JSON document,
            each possibly compressed with gzip, zstd, xz, bzip2 or lz4 (found by
            magic bytes, not by name); '-' reads standard input.

            Nothing is dropped silently: every record is written, or rejected
            with its file, line, byte offset and reason. Fields the canonical
            form has no place for stay in `meta` at their source path.
            tau-bench success is the binary verified check (r_actions,
            r_outputs, or components.base_success), never `reward == 1`.

            Examples:
              trajforge ingest --from tau-bench --tools retail/tools.json \\
                  results.json -o retail.jsonl
              trajforge ingest --from apigen-mt apigen-mt_5k.json.gz -o apigen.jsonl.zst
              cat rollouts.jsonl | trajforge ingest - > trajectories.jsonl
            """)

    @Option(help: ArgumentHelp("Input format: auto, apigen-mt, sharegpt, tau-bench, tau2-bench or openai.", valueName: "format"))
    var from: String = "auto"

    @Option(help: ArgumentHelp("Tool schemas (a JSON list, wrapped or raw) for formats that do not store them (tau-bench, tau2-bench).",
                               valueName: "tools.json"))
    var tools: String?

    @Option(help: ArgumentHelp("Domain name for every record (default: from the policy's first heading, e.g. '# Retail agent policy').",
                               valueName: "name"))
    var domain: String?

    @OptionGroup var io: RecordIOOptions

    @Argument(help: ArgumentHelp("Input files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    func validate() throws {
        guard SourceFormat(rawValue: from) != nil else {
            throw ValidationError("--from must be one of \(SourceFormat.allCases.map(\.rawValue).joined(separator: ", ")) (got \(from))")
        }
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input can be read only once") }
    }

    func run() throws {
        var options = IngestOptions()
        options.format = SourceFormat(rawValue: from)!
        options.domain = domain
        options.threads = io.threadCount
        options.limits = io.limits
        if let tools {
            do { options.tools = try loadToolsFile(tools) } catch {
                printError("error: --tools: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        try runStage(io) { files in
            let ingester = Ingester(options: options)
            try ingester.run(inputs: inputs, output: files.output, rejects: files.rejects)
            return ingester.ledger
        }
    }
}
