import Foundation

// Launch scripts: `<size>/launch/<framework>-<stage>.sh` runs one node's share with torchrun
// (LLaMA-Factory's FORCE_TORCHRUN launcher, torchrun -m axolotl.cli.train, or accelerate for
// TRL); `<size>/launch/<framework>-<stage>.sbatch` runs it on every node of a Slurm allocation.

extension ConfigEmitter {
    var launchDir: String { joinRelative(sizeDir, "launch") }
    var launchScriptPath: String { joinRelative(launchDir, "\(framework.rawValue)-\(stage.rawValue).sh") }

    func launchFiles() -> [EmittedFile] {
        let g = plan.request.gpusPerNode.value
        let header = headerLines("launch on one node (\(plan.nodes) node(s) x \(g) GPUs; run it on every node)", data: false)
            .map { $0.isEmpty ? "#" : "# " + $0 }
        let command: String
        switch framework {
        case .llamafactory:
            command = """
                FORCE_TORCHRUN=1 NNODES="$NNODES" NODE_RANK="$NODE_RANK" NPROC_PER_NODE="$NPROC_PER_NODE" \\
                    MASTER_ADDR="$MASTER_ADDR" MASTER_PORT="$MASTER_PORT" \\
                    llamafactory-cli train \(shellQuote(joinRelative(llamaFactoryDir, "\(stage.rawValue).yaml")))
                """
        case .axolotl:
            command = """
                torchrun --nnodes "$NNODES" --nproc-per-node "$NPROC_PER_NODE" --node-rank "$NODE_RANK" \\
                    --master-addr "$MASTER_ADDR" --master-port "$MASTER_PORT" \\
                    -m axolotl.cli.train \(shellQuote(joinRelative(sizeDir, "axolotl/\(stage.rawValue).yaml")))
                """
        case .trl:
            command = """
                trl \(stage.rawValue) --config \(shellQuote(joinRelative(trlDir, "\(stage.rawValue).yaml"))) \\
                    --accelerate_config \(shellQuote(acceleratePath)) \\
                    --num_machines "$NNODES" --num_processes "$((NNODES * NPROC_PER_NODE))" --machine_rank "$NODE_RANK" \\
                    --main_process_ip "$MASTER_ADDR" --main_process_port "$MASTER_PORT"
                """
        }
        let script = """
            #!/usr/bin/env bash
            \(header.joined(separator: "\n"))
            #
            # Usage, on each node: NODE_RANK=<0..\(plan.nodes - 1)> MASTER_ADDR=<node 0's address> \(launchScriptPath)
            # (the .sbatch beside it does this under Slurm). Paths are relative to the folder
            # `trajforge config` ran in; TRAJFORGE_WORKDIR overrides it.
            set -euo pipefail
            WORKDIR=\(shellQuote(options.workdir))
            cd "${TRAJFORGE_WORKDIR:-$WORKDIR}"
            NNODES="${NNODES:-\(plan.nodes)}"  # plan
            NPROC_PER_NODE="${NPROC_PER_NODE:-\(g)}"  # plan
            NODE_RANK="${NODE_RANK:-0}"
            MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
            MASTER_PORT="${MASTER_PORT:-29500}"
            export HF_HUB_ENABLE_HF_TRANSFER="${HF_HUB_ENABLE_HF_TRANSFER:-0}"
            \(command)

            """

        // Slurm: one task per node; each runs the script above with its node rank.
        var slurm = ["#!/bin/bash",
                     "#SBATCH --job-name=\(slurmName)",
                     "#SBATCH --nodes=\(plan.nodes)",
                     "#SBATCH --ntasks-per-node=1",
                     "#SBATCH --gpus-per-node=\(g)",
                     "#SBATCH --exclusive",
                     "#SBATCH --chdir=\(options.workdir)",
                     "#SBATCH --output=\(slurmName)-%j.out"]
        if let t = plan.totalSeconds {
            // 1.5 x the estimate plus an hour for loading, evaluation and saving.
            let seconds = Int((t * 1.5 + 3600).rounded(.up))
            slurm.append("#SBATCH --time=\(slurmTime(seconds))")
        }
        if let p = options.slurmPartition { slurm.append("#SBATCH --partition=\(p)") }
        if let a = options.slurmAccount { slurm.append("#SBATCH --account=\(a)") }
        slurm.append(contentsOf: header)
        slurm.append("#")
        slurm.append(plan.totalSeconds != nil
            ? "# --time: 1.5 x the plan's estimate + 1 h (trajforge default); --nodes and --gpus-per-node: plan."
            : "# No --time: the plan has no token counts (give trajforge config --tokens-from). --nodes, --gpus-per-node: plan.")
        slurm += [
            "set -euo pipefail",
            "export MASTER_ADDR=\"$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\"",
            "export MASTER_PORT=\"${MASTER_PORT:-29500}\"",
            "export NNODES=\"$SLURM_NNODES\"",
            "export NPROC_PER_NODE=\(g)",
            "WORKDIR=\(shellQuote(options.workdir))",
            "export TRAJFORGE_WORKDIR=\"${TRAJFORGE_WORKDIR:-$WORKDIR}\"",
            "export LAUNCH_SCRIPT=\(shellQuote(launchScriptPath))",
            "srun --kill-on-bad-exit=1 bash -c 'cd \"$TRAJFORGE_WORKDIR\" && NODE_RANK=\"$SLURM_NODEID\" exec bash \"$LAUNCH_SCRIPT\"'",
            "",
        ]
        return [
            EmittedFile(path: launchScriptPath, contents: script, executable: true, summary: "torchrun launch (\(plan.nodes) x \(g) GPUs)"),
            EmittedFile(path: joinRelative(launchDir, "\(framework.rawValue)-\(stage.rawValue).sbatch"), contents: slurm.joined(separator: "\n"),
                        executable: true, summary: "Slurm batch script (\(plan.nodes) node(s))"),
        ]
    }

    var slurmName: String { "\(model.name)-\(framework.rawValue)-\(stage.rawValue)" }

    func slurmTime(_ seconds: Int) -> String {
        let d = seconds / 86400
        let h = (seconds % 86400) / 3600
        let m = (seconds % 3600) / 60
        let s = seconds % 60
        return d > 0 ? String(format: "%d-%02d:%02d:%02d", d, h, m, s) : String(format: "%02d:%02d:%02d", h, m, s)
    }
}

/// A word for bash: as is when it is plainly safe, else single-quoted.
func shellQuote(_ s: String) -> String {
    let safe = s.unicodeScalars.allSatisfy { c in
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "_-./+=:@,".unicodeScalars.contains(c)
    }
    if safe && !s.isEmpty { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
