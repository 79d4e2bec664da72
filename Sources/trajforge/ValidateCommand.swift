import ArgumentParser
import Foundation
import TrajForge

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check trajectories: tool calls against their schemas, tool results against calls, turn order, outcome.",
        discussion: """
            Every problem is a finding with a reason code, a level and a JSON
            path. --mode strict (default) drops trajectories with an error or a
            warning, --mode lenient only those with an error, --mode report none;
            notices never drop. Dropped trajectories are listed in the drops file
            with all their findings; the ledger counts findings by reason;
            --report writes one line per finding; --ignore skips reasons.

            Reasons:
            \(TrajectoryValidator.reasons.map { "  \($0.code) (\($0.level.rawValue))\n      \($0.meaning)" }.joined(separator: "\n"))

            Argument checks cover the JSON Schema subset tool schemas use: type
            (also ["string", "null"] unions and nullable), properties, required,
            enum, const, items/prefixItems, additionalProperties, anyOf/oneOf/
            allOf and numeric/length/size bounds (pattern and format are not
            checked).

            Examples:
              trajforge validate retail.jsonl -o retail.valid.jsonl
              trajforge validate --mode report --report findings.jsonl \\
                  retail.jsonl -o /dev/null
              trajforge validate --ignore unanswered-tool-call in.jsonl -o out.jsonl
            """)

    @Option(help: ArgumentHelp("strict (drop on errors and warnings), lenient (drop on errors) or report (drop nothing).", valueName: "mode"))
    var mode: String = "strict"

    @Option(help: ArgumentHelp("Comma-separated reason codes to ignore.", valueName: "reasons"))
    var ignore: String = ""

    @Option(help: ArgumentHelp("Write every finding as a JSON line {id, action, reason, path, detail}.", valueName: "path"))
    var report: String?

    @OptionGroup var io: RecordIOOptions
    @OptionGroup var dropsOption: DropsOption

    @Argument(help: ArgumentHelp("Canonical trajectory files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    func validate() throws {
        guard ValidateOptions.Mode(rawValue: mode) != nil else { throw ValidationError("--mode must be strict, lenient or report") }
        let known = Set(TrajectoryValidator.reasons.map(\.code))
        for r in ignoredReasons where !known.contains(r) {
            throw ValidationError("--ignore: unknown reason \"\(r)\" (see --help for the list)")
        }
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
    }

    var ignoredReasons: [String] { ignore.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() throws {
        var options = ValidateOptions()
        options.mode = ValidateOptions.Mode(rawValue: mode)!
        options.ignore = Set(ignoredReasons)
        options.threads = io.threadCount
        options.limits = io.limits
        try runStage(io, drops: dropsOption) { files in
            let reportFile = try report.map { try OutputFile(path: $0, compression: OutputCompression(.none)) }
            if let reportFile { files.extra.append(reportFile) }
            let validator = Validator(options: options)
            try validator.run(inputs: inputs, output: files.output, rejects: files.rejects, drops: files.drops, report: reportFile)
            return validator.ledger
        }
    }
}
