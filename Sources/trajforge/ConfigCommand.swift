import ArgumentParser
import ByteJSON
import Foundation
import TrajForge

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Write fine-tuning configs and launch scripts for xLAM-2-fc-r 1B-70B.",
        discussion: """
            For each size, stage and framework, `config` plans the run (see
            `trajforge plan`) and writes, under OUT/<size>/:
              plan-<stage>.json               the plan, every figure sourced
              deepspeed/ds_z3*.json           DeepSpeed (ZeRO setup from the plan)
              llamafactory/<stage>.yaml       + <stage>/dataset_info.json
              axolotl/<stage>.yaml
              trl/<stage>.yaml                + <stage>.accelerate.yaml
              <template>.jinja                the xLAM-2 chat template (TRL, axolotl)
              launch/<fw>-<stage>.sh          torchrun / accelerate, one node
              launch/<fw>-<stage>.sbatch      Slurm: every node of the plan
            Each file starts with a comment: the paper's values (APIGen-MT 5.1:
            LLaMA-Factory, full fine-tune, ZeRO-3, FlashAttention-2, bf16,
            AdamW, <= 3 epochs, per-turn assistant-only loss), the defaults
            (ActionStudio: lr 5e-6 cosine, 100 warmup steps, weight decay 0.01,
            global batch 48, sequence length 16384; TRL for DPO/KTO), and what
            the plan derived. Every value carries its origin as a comment.

            Data (--data DIR, conventional names; --train/--eval override):
              llamafactory sft  sft.sharegpt.jsonl  render --to sharegpt
                           dpo  dpo.sharegpt.jsonl  pairs --to sharegpt
                           kto  kto.sharegpt.jsonl  ShareGPT + kto_tag
              axolotl      sft  sft.messages.jsonl  render --to trl
                                                    --mode all-turns
              trl, axolotl sft  sft.trl.jsonl       render --to trl (trl)
                           dpo  dpo.trl.jsonl       pairs --to trl-dpo
                           kto  kto.trl.jsonl       pairs --strategy kto
            Formats: TRL DPO {prompt, chosen, rejected, tools}; TRL KTO
            {prompt, completion, label, tools}; LLaMA-Factory ranking ShareGPT
            {conversations, chosen, rejected, system, tools}.

            Paths inside the configs are relative to the folder you run
            `config` in; the launch scripts change to it (TRAJFORGE_WORKDIR
            overrides). DPO/KTO start from the framework's SFT output unless
            --model-path says otherwise.

            Examples:
              trajforge config --size 8b --stage sft --framework all -o configs
              trajforge config --size all --stage sft,dpo --framework trl \\
                  --gpu h100 --data data/
              trajforge config --size 70b --base meta-llama/Llama-3.3-70B-Instruct \\
                  --framework llamafactory --tokens-from shards/train/
              trajforge config --size 3b --framework trl --stage sft \\
                  --train sft/train.trl.jsonl --lr 1e-5 --epochs 2
            """)

    @OptionGroup var planOptions: PlanOptions

    @Option(help: ArgumentHelp("sft, dpo, kto, a comma list, or all (default sft).", valueName: "stages"))
    var stage: String = "sft"

    @Option(help: ArgumentHelp("llamafactory, axolotl, trl, a comma list, or all (default all).", valueName: "frameworks"))
    var framework: String = "all"

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Folder for the configs (OUT/<size>/...).", valueName: "dir"))
    var output: String = "configs"

    @Option(help: ArgumentHelp("Folder of the conventionally named data files.", valueName: "dir"))
    var data: String = "data"

    @Option(help: ArgumentHelp("Training file (one framework and one stage).", valueName: "path"))
    var train: String?

    @Option(help: ArgumentHelp("Evaluation file (one framework and one stage; not TRL).", valueName: "path"))
    var eval: String?

    @Option(help: ArgumentHelp("Checkpoints go to DIR/<model>/<framework>/<stage>.", valueName: "dir"))
    var runDir: String = "saves"

    @Option(help: ArgumentHelp("Model to start from (default: the base for SFT, the SFT output for DPO/KTO).", valueName: "path"))
    var modelPath: String?

    @Option(help: ArgumentHelp("Learning rate (default 5e-6 SFT, ActionStudio; 1e-6 DPO/KTO, TRL).", valueName: "x"))
    var lr: Double?

    @Option(help: ArgumentHelp("DPO/KTO beta (default 0.1, TRL).", valueName: "x"))
    var beta: Double?

    @Option(help: ArgumentHelp("Random seed (default 42).", valueName: "n"))
    var seed: Int?

    @Option(help: ArgumentHelp("Slurm partition for the .sbatch scripts.", valueName: "name"))
    var partition: String?

    @Option(help: ArgumentHelp("Slurm account for the .sbatch scripts.", valueName: "name"))
    var account: String?

    var stages: [TrainStage] {
        stage == "all" ? TrainStage.allCases : stage.split(separator: ",").compactMap { TrainStage(rawValue: String($0)) }
    }

    var frameworks: [TrainFramework] {
        framework == "all" ? TrainFramework.allCases : framework.split(separator: ",").compactMap { TrainFramework(rawValue: String($0)) }
    }

    func validate() throws {
        if stage != "all", stage.split(separator: ",").contains(where: { TrainStage(rawValue: String($0)) == nil }) {
            throw ValidationError("--stage takes sft, dpo, kto, a comma list or all (got \(stage))")
        }
        if framework != "all", framework.split(separator: ",").contains(where: { TrainFramework(rawValue: String($0)) == nil }) {
            throw ValidationError("--framework takes llamafactory, axolotl, trl, a comma list or all (got \(framework))")
        }
        if stages.isEmpty || frameworks.isEmpty { throw ValidationError("give at least one stage and one framework") }
        if (train != nil || eval != nil) && (stages.count != 1 || frameworks.count != 1) {
            throw ValidationError("--train and --eval name one file, in one framework's format: give one --stage and one --framework")
        }
        if (train != nil || eval != nil || modelPath != nil) && planOptions.size?.lowercased() == "all" {
            throw ValidationError("--train, --eval and --model-path apply to one size")
        }
        if let lr, lr <= 0 { throw ValidationError("--lr must be positive") }
        if let beta, beta <= 0 { throw ValidationError("--beta must be positive") }
    }

    func run() throws {
        ensureUTF8Locale()
        let catalog = try planOptions.loadCatalog()
        let models = try planOptions.models(catalog)
        let gpu = try planOptions.gpuSpec(catalog)
        let census = try planOptions.census()

        var options = ConfigOptions(workdir: FileManager.default.currentDirectoryPath)
        options.outputDir = output
        options.dataDir = data
        options.train = train
        options.eval = eval
        options.runRoot = runDir
        options.modelPath = modelPath
        options.learningRate = lr
        if let w = planOptions.warmupSteps { options.warmupSteps = Sourced(w, .user("--warmup-steps")) }
        options.beta = beta
        if let seed { options.seed = Sourced(seed, .user("--seed")) }
        options.slurmPartition = partition
        options.slurmAccount = account
        options.commandLine = (["trajforge"] + CommandLine.arguments.dropFirst()).map(shellWord).joined(separator: " ")

        var files: [EmittedFile] = []
        var seen: [String: Int] = [:]
        var refusals: [String] = []
        var lines: [String] = []
        for model in models {
            for stage in stages {
                let plan: TrainingPlan
                do {
                    plan = try Planner.plan(planOptions.request(model: model, stage: stage, gpu: gpu, census: census))
                } catch {
                    refusals.append("refused: \(model.name) \(stage.rawValue): \(error.reason)")
                    continue
                }
                lines.append("\(model.name) \(stage.rawValue): \(plan.nodes) node(s) x \(plan.request.gpusPerNode.value) \(plan.request.gpu.value.name), \(plan.zero), micro \(plan.microBatch) x accumulation \(plan.gradientAccumulation) = \(plan.globalBatch), \(Planner.gibText(plan.gpuBytes)) per GPU")
                for fw in frameworks {
                    do {
                        for f in try ConfigEmitter(plan: plan, framework: fw, options: options).files() {
                            if let k = seen[f.path] {
                                if files[k].contents != f.contents {
                                    printError("error: two configs want \(f.path) with different contents; give each size its own -o or stage")
                                    throw ExitCode(ExitStatus.ioFailure)
                                }
                                continue
                            }
                            seen[f.path] = files.count
                            files.append(f)
                        }
                    } catch let e as PlanRefusal {
                        refusals.append("refused: \(model.name) \(stage.rawValue) \(fw.rawValue): \(e.reason)")
                    }
                }
            }
        }
        do {
            for f in files {
                let out = try OutputFile(path: f.path, compression: OutputCompression(.none))
                try out.write(Array(f.contents.utf8))
                try out.commit()
                if f.executable { chmod(f.path, 0o755) }
            }
        } catch {
            printError("error: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
        for l in lines { print(l) }
        let width = files.map(\.path.count).max() ?? 0
        for f in files { print("wrote " + f.path.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + f.summary) }
        for r in refusals { printError(r) }
        if !refusals.isEmpty { throw ExitCode(planRefusedStatus) }
    }

    /// A command-line word, quoted when needed, for the headers' "generated by" line.
    func shellWord(_ s: String) -> String {
        let safe = !s.isEmpty && s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "_-./+=:@,".unicodeScalars.contains(c)
        }
        return safe ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
