import ByteJSON
import Foundation
import Testing

@Suite(.serialized) struct TrainCLITests {
    func files(under root: String) -> [String] {
        let e = FileManager.default.enumerator(atPath: root)
        var out: [String] = []
        while let p = e?.nextObject() as? String {
            if !isDirectory(root + "/" + p) { out.append(p) }
        }
        return out.sorted()
    }

    func isDirectory(_ p: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
    }

    func text(_ path: String) throws -> String { String(decoding: try readBytes(path), as: UTF8.self) }

    @Test func configWritesEveryFileWithItsProvenance() throws {
        let dir = temporaryFolder()
        let out = dir + "/configs"
        let r = try CLI.run(["config", "--size", "8b", "--stage", "sft,dpo,kto", "--framework", "all", "--gpu", "h100", "-o", out, "--data", dir + "/data"])
        #expect(r.status == 0, "\(r.stderr)")
        let written = files(under: out)
        for stage in ["sft", "dpo", "kto"] {
            for f in ["plan-\(stage).json", "llamafactory/\(stage).yaml", "llamafactory/\(stage)/dataset_info.json", "axolotl/\(stage).yaml",
                      "trl/\(stage).yaml", "trl/\(stage).accelerate.yaml",
                      "launch/llamafactory-\(stage).sh", "launch/axolotl-\(stage).sbatch", "launch/trl-\(stage).sh"] {
                #expect(written.contains("8b/" + f), "missing 8b/\(f)")
            }
        }
        #expect(written.contains("8b/deepspeed/ds_z3.json"))
        #expect(written.contains("8b/xlam2-llama.jinja"))
        let stdout = String(decoding: r.stdout, as: UTF8.self)
        for f in written { #expect(stdout.contains("wrote \(out)/\(f)"), "not reported: \(f)") }

        for f in written where f.hasSuffix(".yaml") || f.hasSuffix(".sh") || f.hasSuffix(".sbatch") {
            let t = try text(out + "/" + f)
            let lines = t.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let body = lines.first!.hasPrefix("#!") ? Array(lines.dropFirst()) : lines
            let header = body.prefix { $0.hasPrefix("#") }.joined(separator: "\n")
            #expect(body.first?.hasPrefix("# trajforge") == true || body.first?.hasPrefix("#SBATCH") == true, "\(f) must start with the comment")
            #expect(header.contains("paper (APIGen-MT (arXiv 2504.03601v4) §5.1)"), "\(f): paper values")
            #expect(header.contains("defaults (the paper does not state these"), "\(f): defaults")
            #expect(header.contains("ActionStudio"), "\(f): ActionStudio named")
            #expect(header.contains("plan (trajforge plan"), "\(f): plan values")
            if f.hasSuffix(".yaml") {
                // Every numeric or boolean value carries its origin, except structural flags.
                for line in lines where !line.hasPrefix("#") {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    guard let colon = trimmed.firstIndex(of: ":") else { continue }
                    let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    guard let first = value.first, first.isNumber || first == "-" && value.count > 1 && value.dropFirst().first!.isNumber else { continue }
                    #expect(line.contains("  # "), "\(f): \(line) has no origin")
                }
            }
        }
        let ds = try JSON.parse(try readBytes(out + "/8b/deepspeed/ds_z3.json"))
        #expect(ds.object?.keys.first == "_comment")
        #expect(ds["zero_optimization"]?["stage"]?.int == 3)
        let info = try JSON.parse(try readBytes(out + "/8b/llamafactory/dpo/dataset_info.json"))
        #expect(info["xlam2_dpo"]?["ranking"]?.bool == true)
        #expect(info["xlam2_dpo"]?["file_name"]?.string == "../../../../data/dpo.sharegpt.jsonl")

        let lf = try text(out + "/8b/llamafactory/sft.yaml")
        #expect(lf.contains("learning_rate: 5.0e-06  # default: ActionStudio"))
        #expect(lf.contains("finetuning_type: full  # paper"))
        #expect(lf.contains("deepspeed: \(out)/8b/deepspeed/ds_z3.json  # paper"))
        #expect(lf.contains("mask_history: true"))
        #expect(lf.contains("template: llama3"))
        let trl = try text(out + "/8b/trl/dpo.yaml")
        #expect(trl.contains("beta: 0.1  # default: TRL DPOConfig/KTOConfig"))
        #expect(trl.contains("model_name_or_path: saves/Llama-xLAM-2-8b-fc-r/trl/sft"))
        #expect(trl.contains("data_files: \(dir)/data/dpo.trl.jsonl"))
        // axolotl 0.19's schema keeps only keys it knows (check_axolotl.py refuses dropped ones):
        // attn_implementation, not the deprecated flash_attention flag; ds_type only in SFT
        // datasets (DPODataset and KTODataset have no such field).
        for stage in ["sft", "dpo", "kto"] {
            let ax = try text(out + "/8b/axolotl/\(stage).yaml")
            #expect(ax.contains("\nattn_implementation: flash_attention_2  # paper\n"), "axolotl \(stage)")
            #expect(!ax.contains("\nflash_attention:"), "axolotl \(stage)")
            #expect(ax.contains("    ds_type: json\n") == (stage == "sft"), "axolotl \(stage) ds_type")
        }

        // Launch scripts are valid bash.
        for f in written where f.hasSuffix(".sh") || f.hasSuffix(".sbatch") {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-n", out + "/" + f]
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "bash -n \(f)")
            #expect(FileManager.default.isExecutableFile(atPath: out + "/" + f))
        }

        // Deterministic: a second run writes the same bytes.
        var before: [String: [UInt8]] = [:]
        for f in written { before[f] = try readBytes(out + "/" + f) }
        let again = try CLI.run(["config", "--size", "8b", "--stage", "sft,dpo,kto", "--framework", "all", "--gpu", "h100", "-o", out, "--data", dir + "/data"])
        #expect(again.status == 0)
        for f in written { #expect(try readBytes(out + "/" + f) == before[f], "\(f) changed between runs") }
    }

    @Test func seventyBOnH100SpansTheNodesThePlanChose() throws {
        let dir = temporaryFolder()
        let r = try CLI.run(["config", "--size", "70b", "--stage", "sft", "--framework", "llamafactory,trl", "--gpu", "h100", "-o", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let plan = try JSON.parse(try readBytes(dir + "/70b/plan-sft.json"))
        let nodes = try #require(plan["layout"]?["nodes"]?["value"]?.int)
        #expect(nodes > 1)
        let sbatch = try text(dir + "/70b/launch/llamafactory-sft.sbatch")
        #expect(sbatch.contains("#SBATCH --nodes=\(nodes)\n"))
        #expect(sbatch.contains("#SBATCH --gpus-per-node=8\n"))
        let accelerate = try text(dir + "/70b/trl/sft.accelerate.yaml")
        #expect(accelerate.contains("num_machines: \(nodes)  # plan"))
        #expect(accelerate.contains("num_processes: \(nodes * 8)  # plan"))
        let script = try text(dir + "/70b/launch/llamafactory-sft.sh")
        #expect(script.contains("NNODES=\"${NNODES:-\(nodes)}\""))
        #expect(script.contains("FORCE_TORCHRUN=1"))
    }

    @Test func planRefusesWhatDoesNotFit() throws {
        let r = try CLI.run(["plan", "--size", "70b", "--gpu", "h100", "--nodes", "1", "--offload", "none"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("refused: Llama-xLAM-2-70b-fc-r sft: "))
        #expect(r.stderr.contains("does not fit H100-80GB"))
        let usage = try CLI.run(["config", "--size", "8b", "--framework", "all", "--train", "x.jsonl"])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("--train and --eval name one file"))
        let trlEval = try CLI.run(["config", "--size", "8b", "--framework", "trl", "--eval", "e.jsonl", "-o", temporaryFolder()])
        #expect(trlEval.status == 1)
        #expect(trlEval.stderr.contains("TRL's CLI loads one dataset mixture"))
    }

    @Test func planWithTokenCountsWritesJSONAndPrintsSteps() throws {
        let dir = temporaryFolder()
        let r = try CLI.run(["plan", "--size", "8b", "--gpu", "h100", "--tokens-from", Paths.fixture("train/samples.tok.jsonl"),
                             "--global-batch", "16", "--json", dir + "/plan.json"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = String(decoding: r.stdout, as: UTF8.self)
        #expect(out.contains("steps"))
        #expect(out.contains("5 samples, 11,948 tokens, longest 5,000"))
        #expect(r.stderr.contains("wrote \(dir)/plan.json"))
        let plan = try JSON.parse(try readBytes(dir + "/plan.json"))
        #expect(plan["schedule"]?["steps_per_epoch"]?["value"]?.int == 1)
        #expect(plan["data"]?["samples"]?.int == 5)
    }

    @Test func deepSpeedTableEqualsTheGoldenPrintout() throws {
        let r = try CLI.run(["plan", "--size", "8b", "--deepspeed-table"])
        #expect(r.status == 0)
        let golden = try text(DeepSpeedGolden.tablesPath)
        #expect(String(decoding: r.stdout, as: UTF8.self).hasPrefix(golden))
    }

    @Test func helpTeaches() throws {
        let plan = try CLI.run(["plan", "--help"])
        let planText = String(decoding: plan.stdout, as: UTF8.self)
        #expect(planText.contains("estimate_zero{2,3}_model_states_mem_needs"))
        #expect(planText.contains("Examples:"))
        let config = try CLI.run(["config", "--help"])
        let configText = String(decoding: config.stdout, as: UTF8.self)
        #expect(configText.contains("ActionStudio: lr 5e-6 cosine"))
        #expect(configText.contains("TRL DPO {prompt, chosen, rejected, tools}"))
        for line in (planText + configText).split(separator: "\n") { #expect(line.count <= 80, "\(line)") }
    }
}
