import ByteJSON

extension ItemOutput {
    /// Writes `t` to the stage's output and counts it as kept.
    public mutating func keep(_ t: Trajectory) {
        kept += 1
        emit(t.json)
    }

    /// Records a drop (it goes to the drops file and the ledger).
    public mutating func drop(_ d: Drop) { drops.append(d) }
}

/// The loop of every stage that reads canonical trajectories and keeps, changes or drops each one.
public enum TrajectoryStage {
    /// Reads `inputs` (JSONL / JSON array / compressed / shard-free), decodes each record as a
    /// canonical trajectory (rejecting what is not one) and hands it to `body` on a worker thread.
    public static func run(inputs: [String], stage: String, threads: Int, limits: ReaderLimits, ledger: inout Ledger,
                           output: OutputFile?, lanes: [OutputFile?] = [], rejects: OutputFile?, drops: OutputFile?, side: OutputFile? = nil,
                           body: @escaping @Sendable (Trajectory, inout ItemOutput) -> Void) throws(IOError)
    {
        for path in inputs {
            let input = try openRecords(path, limits: limits)
            guard let reader = input.reader else {
                ledger.note("\(input.describe(path)) (no records)")
                continue
            }
            try RecordStage.run(reader: reader, threads: threads, ledger: &ledger, output: output, rejects: rejects, lanes: lanes,
                                drops: drops, side: side) { item, batch in
                var out = ItemOutput()
                guard case .record(let raw) = item else { return out }
                out.inputs = 1
                switch readTrajectory(batch, raw, stage: stage) {
                case .success(let t): body(t, &out)
                case .failure(let reject): out.rejects.append(reject)
                }
                return out
            }
        }
    }
}
