import ArgumentParser
import BPE
import Foundation
import TrajForge

struct FilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Keep the trajectories you want to train on; drop or redact secrets and personal data.",
        discussion: """
            Rules (all optional; a trajectory is dropped by the first rule it fails):
              --domain / --exclude-domain      by domain
              --verified-only [success|reward>=X|check:PATH]
                                               outcome.success (default), a reward
                                               threshold, or a value in outcome.checks
                                               such as check:info.r_actions
              --allow-tools / --deny-tools     by the tools a trajectory calls
              --max-tool-errors N              tool results that are errors
              --drop-empty-turns               user/assistant turns with no text
              --turns, --tool-calls, --chars, --tokens MIN:MAX
                                               inclusive ranges; MIN: or :MAX work.
                                               --tokens needs --tokenizer and counts the
                                               text (system, contents, calls), not the
                                               chat template: for exact rendered lengths
                                               use `render --max-tokens`.

            Secrets (API keys, tokens, private keys, credentials): --secrets drop
            (default), redact or keep. Personal data (email, phone, card):
            --personal keep (default: agent tasks look users up by email; redacting
            changes what the agent must do), redact or drop; --personal-kinds picks
            kinds. Redaction is consistent inside a trajectory: the same value gets
            the same placeholder (<EMAIL_1>) in messages, tool-call arguments and
            tool results, so calls and results still agree. Found values are
            counted in the ledger either way.

            Drop reasons: domain-excluded, not-verified, tool-excluded,
            tool-errors, empty-turn, turns-out-of-range, tool-calls-out-of-range,
            characters-out-of-range, tokens-out-of-range, secret-found,
            personal-data-found.

            Examples:
              trajforge filter --verified-only retail.jsonl -o retail.verified.jsonl
              trajforge filter --deny-tools transfer_to_human_agents \\
                  --turns 2:60 --personal redact in.jsonl -o out.jsonl
              trajforge filter --tokens :16384 --tokenizer xlam-2-8b/ in.jsonl -o out.jsonl
            """)

    @Option(help: ArgumentHelp("Keep only verified trajectories: success (default), reward>=X or check:PATH.", valueName: "rule"))
    var verifiedOnly: String?

    @Flag(name: .customLong("verified"), help: "Shorthand for --verified-only success.")
    var verifiedFlag = false

    @Option(help: ArgumentHelp("Keep only these domains (comma-separated).", valueName: "names"))
    var domain: String?

    @Option(help: ArgumentHelp("Drop these domains (comma-separated).", valueName: "names"))
    var excludeDomain: String?

    @Option(help: ArgumentHelp("Drop trajectories calling any tool outside this list.", valueName: "names"))
    var allowTools: String?

    @Option(help: ArgumentHelp("Drop trajectories calling any of these tools.", valueName: "names"))
    var denyTools: String?

    @Option(help: ArgumentHelp("Drop trajectories with more error tool results than this.", valueName: "n"))
    var maxToolErrors: Int?

    @Flag(help: "Drop trajectories with a user or assistant turn that has no text and no tool calls.")
    var dropEmptyTurns = false

    @Option(help: ArgumentHelp("User + assistant turns, MIN:MAX.", valueName: "range"))
    var turns: String?

    @Option(help: ArgumentHelp("Tool calls, MIN:MAX.", valueName: "range"))
    var toolCalls: String?

    @Option(help: ArgumentHelp("Characters (Unicode scalars) of the text, MIN:MAX.", valueName: "range"))
    var chars: String?

    @Option(help: ArgumentHelp("Tokens of the text with --tokenizer, MIN:MAX.", valueName: "range"))
    var tokens: String?

    @Option(help: ArgumentHelp("tokenizer.json, or a model folder holding one (for --tokens).", valueName: "path"))
    var tokenizer: String?

    @Option(help: ArgumentHelp("Secrets: drop (default), redact or keep.", valueName: "action"))
    var secrets: String = "drop"

    @Option(help: ArgumentHelp("Personal data: keep (default), redact or drop.", valueName: "action"))
    var personal: String = "keep"

    @Option(help: ArgumentHelp("Personal data kinds to act on: email,phone,card.", valueName: "kinds"))
    var personalKinds: String = "email,phone,card"

    @OptionGroup var io: RecordIOOptions
    @OptionGroup var dropsOption: DropsOption

    @Argument(help: ArgumentHelp("Canonical trajectory files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    static func list(_ s: String?) -> Set<String>? {
        s.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }) }
    }

    func validate() throws {
        if let v = verifiedOnly, VerifiedBy(parsing: v) == nil {
            throw ValidationError("--verified-only takes success, reward>=X or check:PATH (got \(v))")
        }
        for (name, value) in [("--turns", turns), ("--tool-calls", toolCalls), ("--chars", chars), ("--tokens", tokens)] {
            if let value, CountRange(parsing: value) == nil { throw ValidationError("\(name) takes MIN:MAX, MIN: or :MAX (got \(value))") }
        }
        if tokens != nil && tokenizer == nil { throw ValidationError("--tokens needs --tokenizer") }
        guard SensitiveAction(rawValue: secrets) != nil, SensitiveAction(rawValue: personal) != nil else {
            throw ValidationError("--secrets and --personal take keep, redact or drop")
        }
        for k in FilterCommand.list(personalKinds) ?? [] where !["email", "phone", "card"].contains(k) {
            throw ValidationError("--personal-kinds: unknown kind \(k) (email, phone, card)")
        }
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
    }

    func run() throws {
        var options = FilterOptions()
        options.verified = verifiedOnly.flatMap(VerifiedBy.init(parsing:)) ?? (verifiedFlag ? .success : nil)
        options.turns = turns.flatMap(CountRange.init(parsing:))
        options.toolCalls = toolCalls.flatMap(CountRange.init(parsing:))
        options.characters = chars.flatMap(CountRange.init(parsing:))
        options.tokens = tokens.flatMap(CountRange.init(parsing:))
        options.domains = FilterCommand.list(domain)
        options.excludeDomains = FilterCommand.list(excludeDomain) ?? []
        options.allowTools = FilterCommand.list(allowTools)
        options.denyTools = FilterCommand.list(denyTools) ?? []
        options.maxToolErrors = maxToolErrors
        options.dropEmptyTurns = dropEmptyTurns
        options.secrets = SensitiveAction(rawValue: secrets)!
        options.personal = SensitiveAction(rawValue: personal)!
        options.personalKinds = Set((FilterCommand.list(personalKinds) ?? []).compactMap(SensitiveKind.init(rawValue:)))
        options.threads = io.threadCount
        options.limits = io.limits
        if let tokenizer {
            do { options.tokenizer = try Tokenizer(tokenizerJSONPath: tokenizer) } catch {
                printError("error: --tokenizer: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        try runStage(io, drops: dropsOption) { files in
            let filter = Filter(options: options)
            try filter.run(inputs: inputs, output: files.output, rejects: files.rejects, drops: files.drops)
            return filter.ledger
        }
    }
}
