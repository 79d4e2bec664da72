import ByteJSON
import Foundation

/// Reports a run's progress on standard error: a live bar on a terminal (records/s, bytes, ETA),
/// plain lines otherwise, JSON lines with `json`, only the end with `quiet`.
public final class RunReporter: @unchecked Sendable {
    public enum Style: Sendable { case terminal, plain, json, quiet }

    let style: Style
    private let lock = NSLock()
    private var current: (title: String, number: Int, total: Int, bytes: Int, startBytes: Int, startRecords: Int, start: Date)?
    private var ticker: Thread?
    private var stopped = false
    /// Process CPU seconds (all threads) when the current step started: step-end events report the step's CPU time.
    private var cpuAtStart = 0.0
    private let write: @Sendable (String) -> Void

    public init(style: Style, write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.style = style
        self.write = write
        if style == .terminal || style == .json {
            let t = Thread { [weak self] in
                while let self, !self.isStopped {
                    Thread.sleep(forTimeInterval: style == .terminal ? 0.25 : 1.0)
                    self.tick()
                }
            }
            t.start()
            ticker = t
        }
    }

    /// Terminal when standard error is one, else plain lines.
    public static func automatic(quiet: Bool, json: Bool) -> RunReporter {
        if json { return RunReporter(style: .json) }
        if quiet { return RunReporter(style: .quiet) }
        return RunReporter(style: isatty(2) != 0 ? .terminal : .plain)
    }

    var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    public func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
    }

    static func now() -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date())
    }

    func event(_ fields: JSONObject) {
        var o = JSONObject()
        o["time"] = .string(RunReporter.now())
        for m in fields.members { o[m.key] = m.value }
        write(JSON.object(o).serialized() + "\n")
    }

    func started(_ title: String, number: Int, of total: Int, inputBytes: Int) {
        lock.lock()
        current = (title, number, total, inputBytes, IOCounters.bytesRead.load(ordering: .relaxed), IOCounters.records.load(ordering: .relaxed), Date())
        cpuAtStart = RunReporter.processCPUSeconds()
        lock.unlock()
        switch style {
        case .plain: write("[\(number)/\(total)] \(title) (\(RunReporter.bytes(inputBytes)) in)\n")
        case .json: event(["event": "step-start", "step": .string(title), "number": .number(JSONNumber(number)), "of": .number(JSONNumber(total)),
                           "input_bytes": .number(JSONNumber(inputBytes))])
        case .terminal, .quiet: break
        }
    }

    func skipped(_ title: String, number: Int, of total: Int) {
        switch style {
        case .plain, .terminal: if number > 0 { write("[\(number)/\(total)] \(title): done already (resumed)\n") }
        case .json: event(["event": "step-skipped", "step": .string(title), "number": .number(JSONNumber(number))])
        case .quiet: break
        }
    }

    func finished(_ title: String, ledgers: [Ledger], seconds: Double) {
        lock.lock()
        let c = current
        current = nil
        lock.unlock()
        let records = IOCounters.records.load(ordering: .relaxed) - (c?.startRecords ?? 0)
        let bytes = IOCounters.bytesRead.load(ordering: .relaxed) - (c?.startBytes ?? 0)
        switch style {
        case .terminal, .plain:
            if style == .terminal { write("\r\u{1B}[2K") }
            let rate = seconds > 0 ? " \(RunReporter.count(Double(records) / seconds)) rec/s" : ""
            let prefix = c.map { "[\($0.number)/\($0.total)] " } ?? ""
            write("\(prefix)\(title): \(String(format: "%.2f", seconds)) s, \(RunReporter.bytes(bytes)) read,\(rate)\n")
            for l in ledgers { write("    " + l.summary + "\n") }
        case .json:
            event(["event": "step-end", "step": .string(title), "seconds": JSONNumber(seconds).map(JSON.number) ?? .null,
                   "cpu_seconds": JSONNumber(RunReporter.processCPUSeconds() - cpuAtStart).map(JSON.number) ?? .null,
                   "bytes_read": .number(JSONNumber(bytes)), "records_read": .number(JSONNumber(records)), "ledgers": .array(ledgers.map(\.json))])
        case .quiet: break
        }
    }

    public func message(_ text: String) {
        switch style {
        case .json: event(["event": "message", "text": .string(text)])
        default: write(text + "\n")
        }
    }

    private func tick() {
        lock.lock()
        let c = current
        lock.unlock()
        guard let c else { return }
        let bytes = IOCounters.bytesRead.load(ordering: .relaxed) - c.startBytes
        let records = IOCounters.records.load(ordering: .relaxed) - c.startRecords
        let elapsed = max(Date().timeIntervalSince(c.start), 0.001)
        let fraction = c.bytes > 0 ? min(0.99, Double(bytes) / Double(c.bytes)) : 0
        let eta = fraction > 0.01 ? elapsed / fraction - elapsed : nil
        switch style {
        case .terminal:
            let width = 24
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            var line = "[\(c.number)/\(c.total)] \(c.title) \(bar) \(Int(fraction * 100))% \(RunReporter.bytes(bytes)) \(RunReporter.count(Double(records) / elapsed)) rec/s"
            if let eta { line += " ETA \(Int(eta.rounded()))s" }
            write("\r\u{1B}[2K" + line)
        case .json:
            event(["event": "progress", "step": .string(c.title), "bytes_read": .number(JSONNumber(bytes)), "input_bytes": .number(JSONNumber(c.bytes)),
                   "records_read": .number(JSONNumber(records)), "eta_seconds": eta.flatMap { JSONNumber($0.rounded()) }.map(JSON.number) ?? .null])
        default: break
        }
    }

    /// User + system CPU time of the whole process (every thread), in seconds.
    static func processCPUSeconds() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    static func bytes(_ n: Int) -> String {
        let d = Double(n), k = 1024.0
        if d >= k * k * k { return String(format: "%.1f GB", d / (k * k * k)) }
        if d >= k * k { return String(format: "%.1f MB", d / (k * k)) }
        if d >= k { return String(format: "%.1f kB", d / k) }
        return "\(n) B"
    }

    static func count(_ x: Double) -> String {
        if x >= 1_000_000 { return String(format: "%.1fM", x / 1_000_000) }
        if x >= 1000 { return String(format: "%.1fk", x / 1000) }
        return String(format: "%.0f", x)
    }
}
