import ArgumentParser
import Foundation
import TrajForge

struct DedupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Drop exact and near-duplicate trajectories; cap records per task.",
        discussion: """
            Exact: trajectories whose canonical form is the same (system prompt and
            message text trimmed, tool calls as name + canonical-JSON arguments,
            tool schemas; ids, provenance, outcome, task and meta left out), by
            SHA-256.

            Near: MinHash + LSH over conversation-aware shingles: word n-grams of
            each user and assistant message, tagged by role ("u:", "a:"); every
            tool call as "call:<name><arguments>" and each argument as
            "arg:<name>.<key>=<value>"; tool results only with
            --shingle-observations ("o:"). The system prompt and tool schemas are
            left out (whole domains share them). Records sharing an LSH band are
            compared; a pair joins a cluster when its estimated Jaccard reaches
            --threshold. Parameters follow datatrove: --ngram 5, --bands 14,
            --rows 8 (112 permutations), --seed 1.

            Keep policy, per cluster: the first verified record (outcome.success
            true) in input order, else the first record. Each removed record is
            listed in the drops file with the kept record's id, the estimated
            Jaccard and the cluster size. --max-per-task N then keeps at most N
            records per task (group, else task instruction, else first user
            message), verified ones first.

            Reasons:
            \(Deduplicator.reasons.map { "  \($0.code)\n      \($0.meaning)" }.joined(separator: "\n"))

            Two passes over the input (standard input and pipes are spooled to a
            temporary file); kept records are written as they were read. Memory
            holds only the index, about 300 bytes per record (the 112-value
            signature takes 224), e.g. ~0.4 GB for 1M trajectories. Output is
            identical for any --threads.

            Examples:
              trajforge dedup retail.jsonl -o retail.dedup.jsonl
              trajforge dedup --threshold 0.7 --shingle-observations \\
                  a.jsonl b.jsonl.zst -o merged.dedup.jsonl
              trajforge dedup --no-near --max-per-task 4 in.jsonl -o out.jsonl
            """)

    @Flag(inversion: .prefixedNo, help: "Drop exact duplicates.")
    var exact = true

    @Flag(inversion: .prefixedNo, help: "Drop near-duplicates (MinHash + LSH).")
    var near = true

    @Option(help: ArgumentHelp("Words per text shingle.", valueName: "n"))
    var ngram = 5

    @Option(help: ArgumentHelp("LSH bands.", valueName: "n"))
    var bands = 14

    @Option(help: ArgumentHelp("MinHash rows (permutations) per band.", valueName: "n"))
    var rows = 8

    @Option(help: ArgumentHelp("Seed of the MinHash permutations.", valueName: "n"))
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Estimated Jaccard a candidate pair needs (0-1].", valueName: "x"))
    var threshold = 0.8

    @Flag(help: "Also shingle tool results (observations).")
    var shingleObservations = false

    @Option(help: ArgumentHelp("Keep at most N records per task.", valueName: "N"))
    var maxPerTask: Int?

    @Option(help: ArgumentHelp("Representatives compared per LSH bucket.", valueName: "n"))
    var representatives = 8

    @Option(help: ArgumentHelp("Folder for spooling standard input and pipes (default $TMPDIR).", valueName: "path"))
    var spoolDir: String?

    @OptionGroup var io: RecordIOOptions
    @OptionGroup var dropsOption: DropsOption

    @Argument(help: ArgumentHelp("Canonical trajectory files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input ('-') can be given once") }
        if ngram < 1 { throw ValidationError("--ngram must be at least 1") }
        if bands < 1 || rows < 1 { throw ValidationError("--bands and --rows must be at least 1") }
        if bands * rows > 4096 { throw ValidationError("--bands × --rows must be at most 4096") }
        if !(threshold > 0 && threshold <= 1) { throw ValidationError("--threshold must be in (0, 1]") }
        if let maxPerTask, maxPerTask < 1 { throw ValidationError("--max-per-task must be at least 1") }
        if representatives < 1 { throw ValidationError("--representatives must be at least 1") }
    }

    func run() throws {
        var options = DedupOptions()
        options.exact = exact
        options.near = near
        options.ngram = ngram
        options.bands = bands
        options.rows = rows
        options.seed = seed
        options.threshold = threshold
        options.shingleObservations = shingleObservations
        options.maxPerTask = maxPerTask
        options.representatives = representatives
        options.spoolDirectory = spoolDir
        options.threads = io.threadCount
        options.limits = io.limits
        try runStage(io, drops: dropsOption) { files in
            let dedup = Deduplicator(options: options)
            try dedup.run(inputs: inputs, output: files.output, rejects: files.rejects, drops: files.drops)
            return dedup.ledger
        }
    }
}
