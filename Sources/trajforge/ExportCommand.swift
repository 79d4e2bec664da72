import ArgumentParser
import Foundation
import TrajForge

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write canonical trajectories in a training framework's format (OpenAI messages or LLaMA-Factory ShareGPT).",
        discussion: """
            --to openai    {messages, tools} with OpenAI tool calls: TRL, axolotl,
                           LLaMA-Factory (formatting: openai)
            --to sharegpt  LLaMA-Factory ShareGPT {conversations, system, tools}, the
                           APIGen-MT-5k layout; --dataset-name registers the file
                           in dataset_info.json

            Every record carries a `trajforge` column (a JSON string) with what
            the visible format cannot hold (ids, provenance, outcome, task, meta,
            text beside tool calls), so ingesting the export gives back the exact
            canonical records. --no-carry leaves it out.

            LLaMA-Factory's ShareGPT reader ignores text written beside a tool
            call and skips records whose turns do not alternate user/assistant:
            the ledger counts both.

            Examples:
              trajforge export --to sharegpt retail.jsonl -o data/retail.json \\
                  --dataset-name retail_sft
              trajforge export --to openai --arguments string retail.jsonl \\
                  -o retail.openai.jsonl
            """)

    @Option(help: ArgumentHelp("Output format: openai or sharegpt.", valueName: "format"))
    var to: String

    @Option(help: ArgumentHelp("Write tool-call arguments as JSON objects or as JSON strings. LLaMA-Factory ShareGPT expects objects.",
                               valueName: "object|string"))
    var arguments: String = "object"

    @Flag(inversion: .prefixedNo, help: "Add the trajforge column that makes the export re-ingestable without loss.")
    var carry = true

    @Option(help: ArgumentHelp("Register the output in LLaMA-Factory's dataset_info.json under this name.", valueName: "name"))
    var datasetName: String?

    @Option(help: ArgumentHelp("The dataset_info.json to update (default: beside the output).", valueName: "path"))
    var datasetInfo: String?

    @OptionGroup var io: RecordIOOptions

    @Argument(help: ArgumentHelp("Canonical trajectory files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    func validate() throws {
        guard ExportFormat(rawValue: to) != nil else { throw ValidationError("--to must be openai or sharegpt (got \(to))") }
        guard ArgumentsForm(rawValue: arguments) != nil else { throw ValidationError("--arguments must be object or string") }
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
        if datasetName != nil && io.output == "-" { throw ValidationError("--dataset-name needs an output file (-o)") }
    }

    func run() throws {
        var options = ExportOptions()
        options.format = ExportFormat(rawValue: to)!
        options.arguments = ArgumentsForm(rawValue: arguments)!
        options.carry = carry
        options.threads = io.threadCount
        options.limits = io.limits
        try runStage(io) { files in
            let exporter = Exporter(options: options)
            try exporter.run(inputs: inputs, output: files.output, rejects: files.rejects)
            return exporter.ledger
        }
        if let datasetName {
            let url = URL(fileURLWithPath: io.output)
            let infoPath = datasetInfo ?? url.deletingLastPathComponent().appendingPathComponent("dataset_info.json").path
            do {
                try DatasetInfo.merge(path: infoPath, name: datasetName,
                                      entry: DatasetInfo.entry(fileName: url.lastPathComponent, format: options.format))
            } catch {
                printError("error: \(infoPath): \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
            printError("dataset_info: registered \(datasetName) in \(infoPath)")
            if io.outputCompression.codec != .none {
                printError("warning: LLaMA-Factory cannot read compressed files; write an uncompressed output for it")
            }
        }
    }
}
