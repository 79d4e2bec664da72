import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// Runs the built `trajforge` binary with an environment, optionally killing it (SIGKILL) after
/// `killAfter` seconds.
func runTrajforge(_ arguments: [String], environment: [String: String] = [:], killAfter: Double? = nil) throws -> (status: Int32, stderr: String, killed: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CLI.binary)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    env.removeValue(forKey: "SLURM_ARRAY_TASK_ID")
    env.removeValue(forKey: "SLURM_ARRAY_TASK_COUNT")
    process.environment = env
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    var killed = false
    if let killAfter {
        Thread.sleep(forTimeInterval: killAfter)
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            killed = true
        }
    }
    let data = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), killed || process.terminationReason == .uncaughtSignal)
}

/// Every file under `root` (relative path → bytes).
func tree(_ root: String) -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    let e = FileManager.default.enumerator(atPath: root)
    while let p = e?.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + p, isDirectory: &isDirectory), !isDirectory.boolValue {
            out[p] = [UInt8](FileManager.default.contents(atPath: root + "/" + p) ?? Data())
        }
    }
    return out
}

/// Differences between two output trees, for a readable failure.
func treeDifferences(_ a: [String: [UInt8]], _ b: [String: [UInt8]]) -> [String] {
    var out: [String] = []
    for k in Set(a.keys).union(b.keys).sorted() where a[k] != b[k] {
        out.append(a[k] == nil ? "only in second: \(k)" : b[k] == nil ? "only in first: \(k)" : "differs: \(k)")
    }
    return out
}

/// The real retail rollouts split into `parts` tau-bench files, and a recipe over them.
enum RetailRecipe {
    static func make(parts: Int, render: Bool = true) throws -> String {
        let dir = temporaryFolder("retail-recipe-\(parts)")
        let all = try JSON.parse(readBytes(Paths.grok)).array!
        try FileManager.default.createDirectory(atPath: dir + "/parts", withIntermediateDirectories: true)
        for p in 0..<parts {
            let slice = all.enumerated().filter { $0.offset * parts / all.count == p }.map(\.element)
            try Data(JSON.array(slice).serializedBytes()).write(to: URL(fileURLWithPath: dir + "/parts/" + String(format: "part-%02d.json", p)))
        }
        let recipe = """
            name: retail-test
            inputs:
              - path: parts/part-*.json
                format: tau-bench
                tools: ${RETAIL_TOOLS}
                domain: retail
            validate: {mode: lenient}
            filter:
              verified_only: success
              max_tool_errors: 3
            dedup: {threshold: 0.8}
            split: {validation: 0.2, seed: 3}
            \(render ? "render:\n  - name: xlam-2-8b\n    template: xlam2-llama\n    date: 2025-04-07\n    splits: [validation]" : "")
            pairs:
              outputs: [trl-dpo]
              tool_form: raw
            shard:
              format: jsonl
              max_shard_records: 20
              of: [trajectories]
            stats: {cutoff: 4096}

            """
        try recipe.write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
        return dir + "/recipe.yaml"
    }
}

@Suite struct RecipeTests {
    func parse(_ text: String) throws -> Recipe {
        let dir = temporaryFolder()
        try "[]".write(toFile: dir + "/in.json", atomically: true, encoding: .utf8)
        return try Recipe.parse(text, file: dir + "/r.yaml", variables: ["V": "in.json"])
    }

    func error(_ text: String) -> RecipeError? {
        do {
            _ = try parse(text)
            return nil
        } catch let e as RecipeError {
            return e
        } catch {
            return nil
        }
    }

    @Test func shippedRecipesLoad() throws {
        let apigen = Paths.repo.appendingPathComponent("Tests/TrajForgeTests/Fixtures/sharegpt/apigen-mt.json").path
        for name in ["quickstart.yaml", "apigen-mt-xlam2.yaml", "tau-bench-pairs.yaml"] {
            let recipe = try Recipe.load(Paths.repo.appendingPathComponent("recipes/" + name).path, variables: ["APIGEN_MT": apigen])
            #expect(!recipe.inputs.isEmpty)
            #expect(recipe.stats != nil, "\(name) audits its output")
        }
        let a = try Recipe.load(Paths.repo.appendingPathComponent("recipes/apigen-mt-xlam2.yaml").path, variables: ["APIGEN_MT": apigen])
        #expect(a.train?.sizes == ["1b", "3b", "8b", "32b", "70b"] && a.train?.frameworks == TrainFramework.allCases && a.render.count == 2)
        #expect(a.train?.dataFiles == ["sft.sharegpt.jsonl", "sft.messages.jsonl", "sft.trl.jsonl"])
        let t = try Recipe.load(Paths.repo.appendingPathComponent("recipes/tau-bench-pairs.yaml").path)
        #expect(t.train?.stages == [.dpo, .kto] && t.pairs?.outputs.contains(.rendered) == true && t.stats?.contamination.count == 1)
        let q = try Recipe.load(Paths.repo.appendingPathComponent("recipes/quickstart.yaml").path)
        #expect(q.name == "quickstart" && q.inputs.count == 1 && q.inputs[0].format == .tauBench)
        #expect(q.filter?.verified == .success && q.dedup?.threshold == 0.8 && q.split?.seed == 6)
        #expect(q.render.map(\.name) == ["xlam-2-8b"] && q.pairs?.outputs == [.trlDPO, .sharegpt] && q.pairs?.options.toolForm == .raw)
    }

    @Test func statsAndTrainSectionsAreChecked() {
        let head = "name: x\ninputs:\n  - path: in.json\n"
        var e = error(head + "train:\n  sizes: [2b]\n")
        #expect(e?.line == 5 && e?.message.contains("unknown size 2b") == true, "\(String(describing: e))")
        e = error(head + "train:\n  stages: [dpo]\n  frameworks: [trl]\n")
        #expect(e?.message.contains("need a pairs section") == true, "\(String(describing: e))")
        e = error(head + "pairs: {}\ntrain:\n  stages: [kto]\n  frameworks: [llamafactory]\n")
        #expect(e?.message.contains("no trajforge writer") == true, "\(String(describing: e))")
        e = error(head + "train:\n  stages: [sft]\n")
        #expect(e?.message.contains("need a render target") == true, "\(String(describing: e))")
        e = error(head + "train:\n  gpu: h300\n")
        #expect(e?.message.contains("unknown GPU h300") == true, "\(String(describing: e))")
        e = error(head + "stats:\n  target: nope\n")
        #expect(e?.message.contains("no render target is named nope") == true, "\(String(describing: e))")
        e = error(head + "stats:\n  cutof: 5\n")
        #expect(e?.line == 5 && e?.message.contains("cutoff") == true, "\(String(describing: e))")
    }

    @Test func errorsNameTheLineAndTheKey() {
        // Unknown key, with a suggestion.
        var e = error("name: x\ninputs:\n  - path: in.json\nfilter:\n  verified_onyl: success\n")
        #expect(e?.line == 5 && e?.column == 3)
        #expect(e?.message.contains("unknown key \"filter.verified_onyl\" (did you mean \"verified_only\"?)") == true)
        // Wrong types.
        e = error("name: x\ninputs: [{path: in.json}]\nthreads: two\n")
        #expect(e?.line == 3 && e?.message == "threads: expected an integer, got the text \"two\"")
        e = error("name: x\ninputs: [{path: in.json}]\ndedup:\n  threshold: high\n")
        #expect(e?.line == 4 && e?.message.contains("expected a number") == true)
        e = error("name: x\ninputs: [{path: in.json}]\ndedup:\n  exact: 3\n")
        #expect(e?.message.contains("expected true or false, got an integer (3)") == true)
        e = error("name: x\ninputs: [{path: in.json}]\nsplit: [0.1]\n")
        #expect(e?.line == 3 && e?.message.contains("split must be a mapping") == true)
        e = error("name: x\ninputs: [{path: in.json}]\nvalidate: {mode: sloppy}\n")
        #expect(e?.message.contains("must be one of strict, lenient, report") == true)
        // Values out of range, missing pieces, bad references.
        #expect(error("name: x\ninputs: [{path: in.json}]\nsplit: {validation: 1.5}\n")?.message.contains("at most 1") == true)
        #expect(error("name: x\n")?.message.contains("inputs is required") == true)
        #expect(error("inputs: [{path: in.json}]\n")?.message.contains("name is required") == true)
        #expect(error("name: x\ninputs: [{path: missing-*.json}]\n")?.message.contains("no file matches") == true)
        #expect(error("name: x\ninputs: [{path: in.json}]\npairs: {outputs: [rendered]}\n")?.message.contains("pairs.target") == true)
        // Invalid YAML and duplicate keys.
        #expect(error("name: x\ninputs: [\n")?.message.contains("not valid YAML") == true)
        #expect(error("name: x\nname: y\ninputs: [{path: in.json}]\n")?.message.contains("duplicate key") == true)
        // Variables.
        #expect(error("name: x\ninputs:\n  - path: ${NOPE_NOT_SET}\n")?.message.contains("variable NOPE_NOT_SET is not set") == true)
        #expect((try? parse("name: x\ninputs:\n  - path: ${V}\n"))?.inputs.count == 1)
        #expect((try? parse("name: x\ninputs:\n  - path: ${NOPE_NOT_SET:-in.json}\n"))?.inputs.count == 1)
    }

    @Test func recipeSchemaNamesEveryKey() throws {
        let schema = try JSON.parse(readBytes(Paths.repo.appendingPathComponent("schemas/recipe.schema.json").path))
        let top = Set(schema["properties"]!.object!.keys)
        #expect(top == Set(Recipe.topLevelKeys))
    }
}

@Suite(.serialized) struct RunTests {
    @Test func quickstartRunsAndResumes() throws {
        let out = temporaryFolder() + "/out"
        let recipe = Paths.repo.appendingPathComponent("recipes/quickstart.yaml").path
        let first = try runTrajforge(["run", recipe, "-o", out, "--threads", "1"])
        #expect(first.status == 0, "\(first.stderr)")
        let ledgers = try JSON.parse(readBytes(out + "/ledger.json")).array!.compactMap(Ledger.init(json:))
        #expect(ledgers.allSatisfy { $0.balances })
        #expect(ledgers.map(\.stage) == ["ingest", "validate", "filter", "dedup", "split", "render:xlam-2-8b", "pairs-pool", "pairs:trl-dpo", "pairs:sharegpt", "shard",
                                         "stats"])
        // The audit saw every stage's ledger and every output, and names paths inside the output folder relatively.
        let stats = try JSON.parse(readBytes(out + "/stats/stats.json"))
        #expect(stats["trajectories"]?["count"]?.int == 2 && stats["samples"]?["count"]?.int == 11 && stats["pairs"]?["count"]?.int == 1)
        #expect(!String(decoding: try readBytes(out + "/stats/report.html"), as: UTF8.self).contains(out))
        #expect(ledgers[0].input == 3 && ledgers[2].kept == 2)
        #expect(try readJSONL(out + "/pairs/trl-dpo.jsonl").count == 1)
        let trainCount = try readJSONL(out + "/splits/train.jsonl").count, validationCount = try readJSONL(out + "/splits/validation.jsonl").count
        #expect(trainCount + validationCount == 2)
        let before = tree(out)
        // Again: nothing to do, nothing changes.
        let again = try runTrajforge(["run", recipe, "-o", out])
        #expect(again.stderr.contains("0 steps run, 16 already done"), "\(again.stderr)")
        #expect(tree(out) == before)
        // Another thread count from scratch: the same bytes.
        let other = temporaryFolder() + "/out"
        _ = try runTrajforge(["run", recipe, "-o", other, "--threads", "2"])
        #expect(treeDifferences(tree(other), before).isEmpty)
        // A changed setting reruns the steps it affects, and only those.
        let edited = temporaryFolder() + "/quickstart.yaml"
        let text = try String(contentsOfFile: recipe, encoding: .utf8).replacingOccurrences(of: "outputs: [trl-dpo, sharegpt]", with: "outputs: [trl-dpo, trl-kto]")
        try text.write(toFile: edited, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Paths.repo.appendingPathComponent("recipes/quickstart").path,
                                         toPath: URL(fileURLWithPath: edited).deletingLastPathComponent().path + "/quickstart")
        let changed = try runTrajforge(["run", edited, "-o", out])
        #expect(changed.stderr.contains("4 steps run, 12 already done"), "\(changed.stderr)")
    }

    @Test func killedRunsResumeToTheSameBytes() throws {
        let recipe = try RetailRecipe.make(parts: 4)
        let vars = ["--var", "RETAIL_TOOLS=" + Paths.retailTools]
        let reference = temporaryFolder() + "/ref"
        let clean = try runTrajforge(["run", recipe, "-o", reference] + vars)
        #expect(clean.status == 0, "\(clean.stderr)")
        let expected = tree(reference)
        #expect(expected["pairs/trl-dpo.jsonl"]?.isEmpty == false && expected["sft/xlam-2-8b/validation.jsonl"]?.isEmpty == false)
        // Killed right after step k finished (deterministic), for several k.
        for k in [1, 4, 9, 13] {
            let out = temporaryFolder() + "/k\(k)"
            let killed = try runTrajforge(["run", recipe, "-o", out] + vars, environment: ["TRAJFORGE_KILL_AFTER_STEP": String(k)])
            #expect(killed.killed)
            let resumed = try runTrajforge(["run", recipe, "-o", out] + vars)
            #expect(resumed.status == 0 && resumed.stderr.contains("\(k) already done"), "\(resumed.stderr)")
            #expect(treeDifferences(tree(out), expected).isEmpty, "kill after step \(k): \(treeDifferences(tree(out), expected).prefix(5))")
        }
        // Killed at arbitrary moments (inside steps, mid-write), several times in a row.
        let out = temporaryFolder() + "/random"
        for delay in [0.15, 0.4, 0.8, 1.3] {
            _ = try runTrajforge(["run", recipe, "-o", out, "--threads", "2"] + vars, killAfter: delay)
        }
        let finished = try runTrajforge(["run", recipe, "-o", out] + vars)
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(treeDifferences(tree(out), expected).isEmpty, "\(treeDifferences(tree(out), expected).prefix(5))")
    }

    @Test(arguments: [1, 3, 7])
    func taskArraysMergeToTheSameBytes(tasks: Int) throws {
        let recipe = try RetailRecipe.make(parts: 7, render: false)
        let vars = ["--var", "RETAIL_TOOLS=" + Paths.retailTools]
        let single = temporaryFolder() + "/single"
        #expect(try runTrajforge(["run", recipe, "-o", single, "--threads", "2"] + vars).status == 0)
        let out = temporaryFolder() + "/tasks"
        // The tasks run concurrently, as an array would.
        let group = DispatchGroup()
        let statuses = SharedBox<[Int32]>([])
        let lock = NSLock()
        for i in 0..<tasks {
            DispatchQueue.global().async(group: group) {
                let r = try? runTrajforge(["run", recipe, "-o", out, "--threads", "1", "--task-index", String(i), "--task-count", String(tasks)] + vars)
                lock.lock()
                statuses.value.append(r?.status ?? -1)
                lock.unlock()
            }
        }
        group.wait()
        #expect(statuses.value == Array(repeating: 0, count: tasks))
        let merged = try runTrajforge(["run", recipe, "-o", out, "--merge"] + vars)
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(treeDifferences(tree(out), tree(single)).isEmpty, "\(treeDifferences(tree(out), tree(single)).prefix(5))")
    }

    @Test func mergeRefusesBeforeTheTasksAreDone() throws {
        let recipe = try RetailRecipe.make(parts: 3, render: false)
        let vars = ["--var", "RETAIL_TOOLS=" + Paths.retailTools]
        let out = temporaryFolder() + "/out"
        _ = try runTrajforge(["run", recipe, "-o", out, "--task-index", "0", "--task-count", "3"] + vars)
        let merged = try runTrajforge(["run", recipe, "-o", out, "--merge"] + vars)
        #expect(merged.status != 0 && merged.stderr.contains("missing partitions: 1, 2"), "\(merged.stderr)")
    }

    @Test func trainSectionWritesDataAndConfigs() throws {
        let dir = temporaryFolder()
        try FileManager.default.copyItem(atPath: Paths.repo.appendingPathComponent("recipes/quickstart").path, toPath: dir + "/quickstart")
        let text = try String(contentsOfFile: Paths.repo.appendingPathComponent("recipes/quickstart.yaml").path, encoding: .utf8)
            + "\ntrain:\n  sizes: [1b, 70b]\n  stages: [sft, dpo]\n  frameworks: all\n  gpu: h100\n  seq_len: 4096\n"
        try text.write(toFile: dir + "/q.yaml", atomically: true, encoding: .utf8)
        let out = dir + "/out"
        let first = try runTrajforge(["run", dir + "/q.yaml", "-o", out])
        #expect(first.status == 0, "\(first.stderr)")
        // The data files every framework and stage reads, from the run's own train split and pairs.
        for name in ["sft.sharegpt.jsonl", "sft.messages.jsonl", "sft.trl.jsonl", "dpo.sharegpt.jsonl", "dpo.trl.jsonl"] {
            #expect(FileManager.default.fileExists(atPath: out + "/train/data/" + name), "\(name)")
        }
        let trainSamples = try readJSONL(out + "/sft/xlam-2-8b/train.jsonl").count
        #expect(try readJSONL(out + "/train/data/sft.trl.jsonl").count == trainSamples)
        #expect(try readJSONL(out + "/train/data/dpo.trl.jsonl").count == readJSONL(out + "/pairs/trl-dpo.jsonl").count)
        // Configs for both sizes, every framework; each points at data that exists (paths relative to the output folder).
        for size in ["1b", "70b"] {
            for file in ["llamafactory/sft.yaml", "llamafactory/dpo.yaml", "axolotl/sft.yaml", "trl/sft.yaml", "trl/dpo.yaml", "deepspeed/ds_z3.json",
                         "plan-sft.json", "launch/trl-sft.sbatch"] {
                let path = out + "/train/configs/\(size)/" + file
                #expect(FileManager.default.fileExists(atPath: path), "\(size)/\(file)")
            }
            let yaml = String(decoding: try readBytes(out + "/train/configs/\(size)/trl/dpo.yaml"), as: UTF8.self)
            #expect(yaml.contains("train/data/dpo.trl.jsonl"))
        }
        // 70b does not fit one 8 x H100 node for full fine-tuning: the plan spreads it.
        let plan = try JSON.parse(readBytes(out + "/train/configs/70b/plan-sft.json"))
        #expect((plan["layout"]?["nodes"]?["value"]?.int ?? 0) > 1, "\(String(describing: plan["layout"]))")
        let before = tree(out)
        let again = try runTrajforge(["run", dir + "/q.yaml", "-o", out])
        #expect(again.stderr.contains("0 steps run"), "\(again.stderr)")
        #expect(tree(out) == before)
        // Removing one config file makes the step run again and restores it.
        try FileManager.default.removeItem(atPath: out + "/train/configs/1b/trl/sft.yaml")
        let repaired = try runTrajforge(["run", dir + "/q.yaml", "-o", out])
        #expect(repaired.stderr.contains("1 steps run") || repaired.stderr.contains("1 step run"), "\(repaired.stderr)")
        #expect(tree(out) == before)
    }

    @Test func renderTemplateMayBeAModelFolder() throws {
        let dir = temporaryFolder()
        try FileManager.default.copyItem(atPath: Paths.repo.appendingPathComponent("recipes/quickstart").path, toPath: dir + "/quickstart")
        let model = Paths.shared + "/tokenizers/xlam-2-fc-r-llama"
        let text = try String(contentsOfFile: Paths.repo.appendingPathComponent("recipes/quickstart.yaml").path, encoding: .utf8)
            .replacingOccurrences(of: "template: xlam2-llama", with: "template: \(model)\n    tokenizer: \(model)")
        try text.write(toFile: dir + "/q.yaml", atomically: true, encoding: .utf8)
        let run = try runTrajforge(["run", dir + "/q.yaml", "-o", dir + "/out"])
        #expect(run.status == 0, "\(run.stderr)")
        let samples = try readJSONL(dir + "/out/sft/xlam-2-8b/train.jsonl")
        #expect(!samples.isEmpty && samples.allSatisfy { $0["input_ids"]?.array?.isEmpty == false })
        // The folder's template files are fingerprinted: a rerun finds every step done.
        let again = try runTrajforge(["run", dir + "/q.yaml", "-o", dir + "/out"])
        #expect(again.stderr.contains("0 steps run"), "\(again.stderr)")
    }

    @Test func slurmScripts() throws {
        let dir = temporaryFolder()
        let r = try runTrajforge(["run", Paths.repo.appendingPathComponent("recipes/quickstart.yaml").path, "--emit-slurm", dir, "--task-count", "8"])
        #expect(r.status == 0)
        let map = try String(contentsOfFile: dir + "/map.sbatch", encoding: .utf8)
        #expect(map.contains("#SBATCH --array=0-7") && map.contains("--task-count 8") && map.contains("trajforge run '"))
        let merge = try String(contentsOfFile: dir + "/merge.sbatch", encoding: .utf8)
        #expect(merge.contains("--merge"))
        let submit = try String(contentsOfFile: dir + "/submit.sh", encoding: .utf8)
        #expect(submit.contains("--dependency=afterok:${map}"))
        #expect(FileManager.default.isExecutableFile(atPath: dir + "/submit.sh"))
    }
}
