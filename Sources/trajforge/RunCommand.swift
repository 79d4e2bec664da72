import ArgumentParser
import ByteJSON
import Foundation
import TrajForge

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a recipe: the whole flow from rollouts to training data.",
        discussion: """
            A recipe (YAML, schemas/recipe.schema.json) names the inputs and the
            stages: validate, filter, dedup, split, render targets, pairs,
            shard, stats and train configs. Input paths are relative to the
            recipe file; the output folder (default trajforge-out/<name>) is
            relative to the current folder. Strings may use ${NAME} or
            ${NAME:-default}: --var NAME=VALUE, then the environment.

            Every step writes its files atomically and then a completion record
            (.trajforge/done/): run the same command again after a crash or
            kill and it continues where it stopped; the result is byte-identical
            to an uninterrupted run, whatever --threads.

            Scale-out: --task-index/--task-count (default from
            SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT) run the map steps
            (ingest, validate, filter) for input files k with k % count ==
            index; then --merge runs dedup over all partitions and the rest.
            N tasks + merge write exactly what one run writes. --emit-slurm DIR
            writes the sbatch array script, the dependent merge job and
            submit.sh.

            Examples:
              trajforge run recipes/quickstart.yaml
              trajforge run recipes/tau-bench-pairs.yaml --var DATA=runs/retail
              trajforge run big.yaml --task-index 0 --task-count 8   # one task
              trajforge run big.yaml --merge
              trajforge run big.yaml --emit-slurm slurm/ --task-count 8
            """)

    @Argument(help: ArgumentHelp("The recipe (YAML).", valueName: "recipe"))
    var recipe: String

    @Option(name: .customLong("var"), help: ArgumentHelp("Recipe variable NAME=VALUE for ${NAME} (repeatable).", valueName: "name=value"))
    var variables: [String] = []

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output folder (overrides the recipe's output).", valueName: "dir"))
    var output: String?

    @Option(help: ArgumentHelp("Worker threads (default: the recipe's, else all cores). Output is identical for any value.", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("This task's index for map steps (default: $SLURM_ARRAY_TASK_ID).", valueName: "i"))
    var taskIndex: Int?

    @Option(help: ArgumentHelp("How many map tasks share the inputs (default: $SLURM_ARRAY_TASK_COUNT, else 1).", valueName: "n"))
    var taskCount: Int?

    @Flag(help: "Run the merge after the map tasks (dedup and everything after it).")
    var merge = false

    @Option(help: ArgumentHelp("Write sbatch scripts for --task-count map tasks and the merge job into this folder, and stop.", valueName: "dir"))
    var emitSlurm: String?

    @Flag(help: "Run every step again, ignoring completion records.")
    var force = false

    @Flag(name: [.customShort("q"), .long], help: "Print only the final ledger summary lines.")
    var quiet = false

    @Flag(help: "Log JSON lines (step start/progress/end with ledgers) on standard error.")
    var jsonLog = false

    @Flag(help: "Check the recipe and print the steps it would run, then stop.")
    var check = false

    static func environmentInt(_ name: String) -> Int? { ProcessInfo.processInfo.environment[name].flatMap(Int.init) }

    func validate() throws {
        for v in variables where !v.contains("=") { throw ValidationError("--var takes NAME=VALUE (got \(v))") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        let count = taskCount ?? RunCommand.environmentInt("SLURM_ARRAY_TASK_COUNT") ?? 1
        let index = taskIndex ?? RunCommand.environmentInt("SLURM_ARRAY_TASK_ID") ?? 0
        if count < 1 || index < 0 || index >= count { throw ValidationError("--task-index must be in 0..<--task-count (got \(index) of \(count))") }
        if merge && taskIndex != nil { throw ValidationError("--merge runs after all tasks: do not give --task-index") }
    }

    func run() throws {
        var vars: [String: String] = [:]
        for v in variables {
            let i = v.firstIndex(of: "=")!
            vars[String(v[..<i])] = String(v[v.index(after: i)...])
        }
        let recipe: Recipe
        do { recipe = try Recipe.load(self.recipe, variables: vars, output: output) } catch {
            printError("error: \(error)")
            throw ExitCode(ExitStatus.dataError)
        }
        let count = taskCount ?? RunCommand.environmentInt("SLURM_ARRAY_TASK_COUNT") ?? 1
        if let emitSlurm {
            try SlurmEmitter.write(recipe: recipe, recipePath: self.recipe, variables: variables, output: output, taskCount: count, folder: emitSlurm)
            return
        }
        var options = RunOptions()
        options.threads = threads ?? recipe.threads ?? defaultThreadCount
        options.taskCount = count
        options.taskIndex = taskIndex ?? RunCommand.environmentInt("SLURM_ARRAY_TASK_ID") ?? 0
        let arrayTask = taskIndex != nil || ProcessInfo.processInfo.environment["SLURM_ARRAY_TASK_ID"] != nil
        options.phase = merge ? .merge : (arrayTask ? .map : .all)
        options.force = force
        let reporter = RunReporter.automatic(quiet: quiet, json: jsonLog)
        defer { reporter.stop() }
        let runner = RecipeRunner(recipe: recipe, options: options, reporter: reporter)
        if check {
            for line in runner.plan() { print(line) }
            return
        }
        let summary: RunSummary
        do { summary = try runner.run() } catch {
            reporter.message("error: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
        if !jsonLog {
            reporter.message("")
            for l in summary.ledgers { reporter.message(l.summary) }
            reporter.message("\(summary.ran.count) steps run, \(summary.skipped.count) already done; output in \(runner.outputFolder)")
        } else {
            reporter.message("run finished: \(summary.ran.count) steps run, \(summary.skipped.count) done already")
        }
    }
}
