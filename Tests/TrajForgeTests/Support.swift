import ByteJSON
import Foundation
@testable import TrajForge

/// Paths used by tests: the repository, its fixtures, and ../shared beside the clone.
enum Paths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repo.appendingPathComponent("Tests/TrajForgeTests/Fixtures").path
    static let shared = repo.deletingLastPathComponent().appendingPathComponent("shared").path
    static let retail = shared + "/data/tau-bench/retail"
    static let grok = retail + "/trajectories/tool-calling-grok-3-0.0_range_0--1_user-grok-3-llm_0921131646.json"
    static let retailTools = retail + "/tools.json"

    static func fixture(_ name: String) -> String { fixtures + "/" + name }
}

/// The folder that holds every test folder of this test process; removed when the process exits
/// (the tests write gigabytes over a run), unless TRAJFORGE_KEEP_TEST_FILES is set.
private let testRoot: String = {
    let root = testRootPath()
    try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    if ProcessInfo.processInfo.environment["TRAJFORGE_KEEP_TEST_FILES"] == nil {
        atexit { try? FileManager.default.removeItem(atPath: testRootPath()) }
    }
    return root
}()

private func testRootPath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("trajforge-tests-\(getpid())").path
}

/// A fresh temporary folder for one test.
func temporaryFolder(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = (testRoot as NSString).appendingPathComponent("\(safe)-\(UUID().uuidString.prefix(8))")
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// Non-empty lines of a file, parsed.
func readJSONL(_ path: String) throws -> [JSON] {
    let bytes = try readBytes(path)
    return try bytes.split(separator: 0x0A).map { try JSON.parse(Array($0)) }
}

struct StageRun {
    var ledger: Ledger
    var output: String
    var rejects: String
    var records: [JSON]
    var rejected: [JSON]
}

/// Runs ingest on `inputs` into a temporary folder.
func runIngest(_ inputs: [String], format: SourceFormat = .auto, tools: String? = nil, threads: Int = 2,
               limits: ReaderLimits = .init(), folder: String? = nil, outputName: String = "out.jsonl") throws -> StageRun
{
    let dir = folder ?? temporaryFolder()
    var options = IngestOptions()
    options.format = format
    options.threads = threads
    options.limits = limits
    if let tools { options.tools = try loadToolsFile(tools) }
    let out = dir + "/" + outputName
    let rej = dir + "/rejects.jsonl"
    let output = try OutputFile(path: out, compression: OutputCompression(Compression.forOutputPath(out)))
    let rejects = try OutputFile(path: rej, compression: OutputCompression(.none))
    let ingester = Ingester(options: options)
    try ingester.run(inputs: inputs, output: output, rejects: rejects)
    try output.commit()
    try rejects.commit()
    let records = Compression.forOutputPath(out) == .none ? try readJSONL(out) : []
    return StageRun(ledger: ingester.ledger, output: out, rejects: rej, records: records, rejected: try readJSONL(rej))
}

/// Runs export on `inputs` into a temporary folder.
func runExport(_ inputs: [String], to format: ExportFormat, arguments: ArgumentsForm = .object, carry: Bool = true,
               threads: Int = 2, folder: String? = nil) throws -> StageRun
{
    let dir = folder ?? temporaryFolder()
    var options = ExportOptions()
    options.format = format
    options.arguments = arguments
    options.carry = carry
    options.threads = threads
    let out = dir + "/export.\(format.rawValue).jsonl"
    let rej = dir + "/export.rejects.jsonl"
    let output = try OutputFile(path: out, compression: OutputCompression(.none))
    let rejects = try OutputFile(path: rej, compression: OutputCompression(.none))
    let exporter = Exporter(options: options)
    try exporter.run(inputs: inputs, output: output, rejects: rejects)
    try output.commit()
    try rejects.commit()
    return StageRun(ledger: exporter.ledger, output: out, rejects: rej, records: try readJSONL(out), rejected: try readJSONL(rej))
}
