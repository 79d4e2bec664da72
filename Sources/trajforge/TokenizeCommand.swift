import ArgumentParser
import BPE
import ByteJSON
import Foundation
import TrajForge

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode a text field of every JSONL record into token ids ({\"ids\": [...]} per line).",
        discussion: """
            The tokenizer is trajforge's byte-level BPE, loaded from a HF
            tokenizer.json (or a folder holding one); its ids match HF tokenizers
            (tools/bpe/compare_hf.py checks them). Special-token text is parsed as
            special tokens unless --no-special; no BOS/EOS is added unless
            --add-special-tokens. One output line per input record, in order.

            Example:
              trajforge tokenize --tokenizer models/llama-3.1 texts.jsonl -o ids.jsonl
            """)

    @Option(help: ArgumentHelp("tokenizer.json or a folder holding one.", valueName: "path"))
    var tokenizer: String

    @Option(help: ArgumentHelp("The field holding the text.", valueName: "name"))
    var field: String = "text"

    @Flag(help: "Treat special-token text as plain text.")
    var noSpecial = false

    @Flag(help: "Add the tokenizer's special tokens (e.g. BOS) around each text.")
    var addSpecialTokens = false

    @OptionGroup var io: RecordIOOptions

    @Argument(help: ArgumentHelp("JSONL files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    func run() throws {
        let tok: Tokenizer
        do { tok = try Tokenizer(tokenizerJSONPath: tokenizer) } catch {
            printError("error: --tokenizer: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
        let field = self.field, parseSpecial = !noSpecial, addSpecial = addSpecialTokens
        try runStage(io) { files in
            var ledger = Ledger(stage: "tokenize")
            ledger.outputUnit = "id lists"
            for path in inputs {
                let input = try openRecords(path, limits: io.limits)
                guard let reader = input.reader else { continue }
                try RecordStage.run(reader: reader, threads: io.threadCount, ledger: &ledger, output: files.output, rejects: files.rejects) { item, batch in
                    var out = ItemOutput()
                    guard case .record(let raw) = item else { return out }
                    out.inputs = 1
                    switch parseRecord(batch, raw) {
                    case .failure(let e):
                        out.rejects.append(Reject(stage: "tokenize", at: raw.location, reason: .invalidJSON, detail: e.description))
                    case .success(let json):
                        guard let text = json[field]?.string else {
                            out.rejects.append(Reject(stage: "tokenize", at: raw.location, reason: .missingField, detail: "no string field \"\(field)\""))
                            return out
                        }
                        let ids = tok.encode(text, parseSpecial: parseSpecial, addSpecialTokens: addSpecial)
                        out.kept = 1
                        out.emit(["ids": .array(ids.map { .number(JSONNumber(Int($0))) })])
                    }
                    return out
                }
            }
            return ledger
        }
    }
}
