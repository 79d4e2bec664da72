import Foundation

/// Paths used by tests: the repository, its fixtures, and ../shared beside the clone.
enum Paths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repo.appendingPathComponent("Tests/TrajForgeTests/Fixtures")
    static let shared = repo.deletingLastPathComponent().appendingPathComponent("shared")
    static let retail = shared.appendingPathComponent("data/tau-bench/retail")
    static let grok = retail.appendingPathComponent("trajectories/tool-calling-grok-3-0.0_range_0--1_user-grok-3-llm_0921131646.json").path
    static let retailTools = retail.appendingPathComponent("tools.json").path
}
