// Shared helpers: where the repository and ../shared are, reading files, building contexts.

import ByteJSON
import Foundation
import Jinja

enum Paths {
    /// This file's directory with symlinks resolved (scratch packages link the sources in).
    static let testsDir: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
    /// The repository root (Tests/JinjaTests/ is two levels down).
    static let repo: URL = testsDir.deletingLastPathComponent().deletingLastPathComponent()
    /// `../shared` beside the repository clone (or `$TRAJFORGE_SHARED`, as tools/dev allows).
    static let shared: URL = ProcessInfo.processInfo.environment["TRAJFORGE_SHARED"].map { URL(fileURLWithPath: $0) }
        ?? repo.deletingLastPathComponent().appendingPathComponent("shared")
    static let templates: URL = shared.appendingPathComponent("templates")
    static let rendered: URL = templates.appendingPathComponent("rendered")
    static let fixtures: URL = testsDir.appendingPathComponent("Fixtures")
    static let cases: URL = repo.appendingPathComponent("tools/jinja/conformance_cases.jsonl")
}

func readText(_ url: URL) throws -> String {
    try String(decoding: Data(contentsOf: url), as: UTF8.self)
}

func readJSON(_ url: URL) throws -> JSON {
    try JSON.parse([UInt8](Data(contentsOf: url)))
}

/// The moment `strftime_now` sees in the conformance goldens (make_goldens.py pins the same).
let conformanceDate = CivilDateTime(year: 2025, month: 4, day: 7, hour: 13, minute: 5, second: 9, microsecond: 123456)

/// A context from a JSON object.
func context(_ json: JSON) -> [String: Value] {
    var ctx: [String: Value] = [:]
    for m in json.object?.members ?? [] { ctx[m.key] = Value(json: m.value) }
    return ctx
}

/// Runs `body` on a new thread with the given stack size and returns its result.
final class ThreadResultBox<T>: @unchecked Sendable {
    var value: T?
    let done = DispatchSemaphore(value: 0)
}

func onThread<T: Sendable>(stackSize: Int, _ body: @escaping @Sendable () -> T) -> T? {
    let box = ThreadResultBox<T>()
    let thread = Thread {
        box.value = body()
        box.done.signal()
    }
    thread.stackSize = stackSize
    thread.start()
    guard box.done.wait(timeout: .now() + 120) == .success else { return nil }
    return box.value
}
