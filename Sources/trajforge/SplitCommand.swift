import ArgumentParser
import Foundation
import TrajForge

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split trajectories into train / validation (/ test) by task, with a seed.",
        discussion: """
            Rollouts of one task never straddle splits: each task group (the
            trajectory's group, else its task instruction, else the record) goes
            to one split, chosen by a seeded hash of its key. The shares are of
            groups, so record counts are close to, not exactly, the shares; the
            ledger prints them. Same input and seed, same split, in any order.

            --contamination EVAL (repeatable) drops records that overlap evaluation
            items: canonical trajectories, tau-bench/tau2 tasks (tasks.json), OpenAI
            or ShareGPT conversations, or records with a text/instruction field.
            A record's overlap with an item is the share of the item's word
            n-grams (--ngram, default 8) found in the record's user and assistant
            turns and task instruction; at --threshold or more it is dropped as
            `contaminated`, naming the item and the overlap.

            Writes DIR/train.jsonl, DIR/validation.jsonl and, with --test > 0,
            DIR/test.jsonl (--compression gzip|zstd adds .gz/.zst); drops and
            rejects go to DIR/split.drops.jsonl and DIR/split.rejects.jsonl.

            Examples:
              trajforge split retail.jsonl -o splits/ --validation 0.1 --seed 7
              trajforge split sft.jsonl -o splits/ \\
                  --contamination tau-bench/retail/tasks.json
            """)

    @Option(name: [.short, .customLong("out-dir")], help: ArgumentHelp("Folder for the split files.", valueName: "dir"))
    var outDir: String

    @Option(help: ArgumentHelp("Share of task groups for validation (0-1).", valueName: "share"))
    var validation: Double = 0.05

    @Option(help: ArgumentHelp("Share of task groups for test (0-1).", valueName: "share"))
    var test: Double = 0

    @Option(help: ArgumentHelp("Seed of the split.", valueName: "n"))
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Evaluation items to check overlap against (repeatable).", valueName: "path"))
    var contamination: [String] = []

    @Option(help: ArgumentHelp("Word n-gram size for the contamination check.", valueName: "n"))
    var ngram: Int = 8

    @Option(help: ArgumentHelp("Overlap (0-1) at which a record counts as contaminated.", valueName: "share"))
    var threshold: Double = 0.5

    @OptionGroup var stage: StageOptions

    @Option(help: ArgumentHelp("Where dropped records are listed (default: DIR/split.drops.jsonl).", valueName: "path"))
    var drops: String?

    @Argument(help: ArgumentHelp("Canonical trajectory files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    func validate() throws {
        guard (0...1).contains(validation), (0...1).contains(test), validation + test <= 1 else {
            throw ValidationError("--validation and --test are shares between 0 and 1 that add up to at most 1")
        }
        guard ngram >= 1 else { throw ValidationError("--ngram must be at least 1") }
        guard threshold > 0, threshold <= 1 else { throw ValidationError("--threshold must be in (0, 1]") }
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
    }

    func run() throws {
        ensureUTF8Locale()
        var options = SplitOptions()
        options.validation = validation
        options.test = test
        options.seed = seed
        options.contaminationThreshold = threshold
        options.threads = stage.threadCount
        options.limits = stage.limits
        var notes: [String] = []
        if !contamination.isEmpty {
            do {
                let (index, loaded) = try ContaminationIndex.load(paths: contamination, n: ngram, limits: stage.limits)
                options.contamination = index
                notes = loaded
            } catch {
                printError("error: --contamination: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        let suffix = ".jsonl" + (stage.compression.flatMap(Compression.init(rawValue:))?.suffix ?? "")
        let rejectsPath = stage.rejects ?? outDir + "/split.rejects.jsonl"
        let dropsPath = drops ?? outDir + "/split.drops.jsonl"
        var ledger: Ledger
        do {
            var outputs: [SplitName: OutputFile] = [:]
            for name in SplitName.allCases where name != .test || test > 0 {
                let path = outDir + "/" + name.rawValue + suffix
                outputs[name] = try OutputFile(path: path, compression: stage.compression(for: path))
            }
            let rejects = try OutputFile(path: rejectsPath, compression: OutputCompression(.none))
            let dropsFile = try OutputFile(path: dropsPath, compression: OutputCompression(.none))
            let splitter = Splitter(options: options)
            try splitter.run(inputs: inputs, outputs: outputs, rejects: rejects, drops: dropsFile)
            for file in outputs.values { try file.commit() }
            try rejects.commit()
            try dropsFile.commit()
            ledger = splitter.ledger
        } catch {
            printError("error: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
        for n in notes { ledger.note(n) }
        try finishStage(ledger, stage, rejectsPath: rejectsPath, dropsPath: dropsPath)
    }
}
