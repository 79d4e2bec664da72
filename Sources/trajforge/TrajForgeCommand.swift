import ArgumentParser
import Foundation
import TrajForge

@main
struct TrajForgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trajforge",
        abstract: "Turn verified multi-turn tool-use trajectories into training data.",
        version: TrajForgeVersion.string,
        subcommands: [IngestCommand.self, ExportCommand.self, ValidateCommand.self, FilterCommand.self, DedupCommand.self, SplitCommand.self, RenderCommand.self, PairsCommand.self, StatsCommand.self, RunCommand.self, TokenizeCommand.self, TokensCommand.self, CanonCommand.self, ShardCommand.self, VerifyCommand.self, CatCommand.self, PlanCommand.self, ConfigCommand.self]
    )
}
