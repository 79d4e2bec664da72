import ByteJSON

public struct ValidateOptions: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Drop trajectories with an error or a warning.
        case strict
        /// Drop trajectories with an error.
        case lenient
        /// Drop nothing; only report.
        case report

        /// The least serious finding level that drops a trajectory in this mode (nil: none drops).
        var dropsFrom: TrajectoryValidator.Level? {
            switch self {
            case .strict: .warning
            case .lenient: .error
            case .report: nil
            }
        }
    }

    public var mode: Mode = .strict
    /// Reason codes that neither drop nor count.
    public var ignore: Set<String> = []
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()
    public init() {}
}

/// The validate stage: structural and schema checks; drops (strict) or reports (lenient).
public final class Validator {
    let options: ValidateOptions
    public private(set) var ledger = Ledger(stage: "validate")

    public init(options: ValidateOptions) { self.options = options }

    /// `report`, if given, receives one JSON line per finding: {id, reason, path, detail, action}.
    public func run(inputs: [String], output: OutputFile, rejects: OutputFile?, drops: OutputFile?, report: OutputFile?) throws(IOError) {
        let options = self.options
        try TrajectoryStage.run(inputs: inputs, stage: "validate", threads: options.threads, limits: options.limits, ledger: &ledger,
                                output: output, rejects: rejects, drops: drops, side: report) { t, out in
            let findings = TrajectoryValidator.check(t).filter { !options.ignore.contains($0.reason) }
            for f in findings { out.count("finding: \(f.reason)") }
            if findings.isEmpty {
                out.keep(t)
                return
            }
            out.count("trajectories with findings")
            let dropping = findings.filter { f in options.mode.dropsFrom.map { TrajectoryValidator.level(of: f.reason) >= $0 } ?? false }
            let action = dropping.isEmpty ? "kept" : "dropped"
            for f in findings {
                let head: JSONObject = ["id": .string(t.id), "action": .string(action),
                                        "level": .string(TrajectoryValidator.level(of: f.reason).rawValue)]
                out.side.append(.object(head.merging(f.json.object ?? [:])))
            }
            if let first = dropping.first {
                out.drop(Drop(id: t.id, stage: "validate", reason: first.reason,
                              detail: "\(first.path): \(first.detail)" + (findings.count > 1 ? " (+\(findings.count - 1) more findings)" : ""),
                              details: ["findings": .array(findings.map(\.json))]))
            } else {
                out.keep(t)
            }
        }
    }
}

extension JSONObject {
    /// This object's members followed by `other`'s (replacing equal keys in place).
    func merging(_ other: JSONObject) -> JSONObject {
        var out = self
        for m in other { out[m.key] = m.value }
        return out
    }
}
