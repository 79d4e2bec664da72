import Foundation

/// Writes Slurm scripts for a task-parallel run: an sbatch array whose tasks run the map steps,
/// a merge job that depends on the whole array, and submit.sh that chains them.
public enum SlurmEmitter {
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    public static func write(recipe: Recipe, recipePath: String, variables: [String], output: String?, taskCount: Int, folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let absoluteRecipe = URL(fileURLWithPath: recipePath).standardizedFileURL.path
        var args = [quote(absoluteRecipe)] + variables.map { "--var " + quote($0) }
        let out = output ?? recipe.output
        args.append("-o " + quote(out.hasPrefix("/") ? out : FileManager.default.currentDirectoryPath + "/" + out))
        let common = args.joined(separator: " ")
        let threads = recipe.threads.map(String.init) ?? "${SLURM_CPUS_PER_TASK:-2}"
        let map = """
            #!/bin/bash
            # trajforge map tasks for recipe \(recipe.name): input files k with k % \(taskCount) == task id.
            #SBATCH --job-name=tf-\(recipe.name)-map
            #SBATCH --array=0-\(taskCount - 1)
            #SBATCH --cpus-per-task=2
            #SBATCH --mem=4G
            #SBATCH --output=tf-\(recipe.name)-map-%a.log
            set -euo pipefail
            # --task-index/--task-count come from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT.
            exec trajforge run \(common) --threads \(threads) --task-count \(taskCount)

            """
        let merge = """
            #!/bin/bash
            # trajforge merge for recipe \(recipe.name): dedup over every partition, then split, render,
            # pairs, shards, stats and train configs. Submit after the map array (submit.sh does).
            #SBATCH --job-name=tf-\(recipe.name)-merge
            #SBATCH --cpus-per-task=8
            #SBATCH --mem=16G
            #SBATCH --output=tf-\(recipe.name)-merge.log
            set -euo pipefail
            exec trajforge run \(common) --threads \(threads) --merge

            """
        let submit = """
            #!/bin/bash
            # Submits the map array, then the merge once every array task has succeeded.
            set -euo pipefail
            cd "$(dirname "$0")"
            map=$(sbatch --parsable map.sbatch)
            merge=$(sbatch --parsable --dependency=afterok:${map} merge.sbatch)
            echo "map array ${map}, merge ${merge}"

            """
        for (name, text) in [("map.sbatch", map), ("merge.sbatch", merge), ("submit.sh", submit)] {
            let path = folder + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
    }
}
