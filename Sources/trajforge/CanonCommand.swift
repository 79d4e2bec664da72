import ArgumentParser
import ByteJSON
import TrajForge

struct CanonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canon",
        abstract: "Print each line's JSON in canonical form: sorted keys, no spaces, minimal escapes.",
        discussion: """
            This is the form trajforge hashes for identity and exact dedup.
            Object keys are sorted by code point, numbers keep their source text
            (1.0 stays 1.0), strings are escaped the way Python's
            json.dumps(ensure_ascii=False) escapes them. A line that is not JSON
            is reported with the byte offset of the problem (exit status 65).

            --mark prefixes every output line with '+' (canonical JSON follows)
            or '-' (an error follows), one output line per input line, blank
            lines included: handy for comparing with other parsers.
            """)

    @Flag(help: "One output line per input line: '+<json>' or '-<error>'.")
    var mark = false

    @Flag(help: "Keep object keys in their order (compact JSON instead of canonical).")
    var keepOrder = false

    @Argument(help: ArgumentHelp("A JSONL file (compressed or not; '-' for standard input).", valueName: "input"))
    var input: String = "-"

    func run() throws {
        ensureUTF8Locale()
        var bad = 0
        do {
            let output = try OutputFile(path: "-", compression: OutputCompression(.none))
            let (source, _) = try openDecompressed(input)
            let reader = JSONLReader(source: source, file: input)
            reader.keepsBlankLines = mark
            while let batch = try reader.nextBatch() {
                try output.write(canonicalLines(batch, bad: &bad))
            }
            try output.commit()
        } catch {
            printError("error: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
        if bad > 0 && !mark { throw ExitCode(ExitStatus.strictRejects) }
    }

    func canonicalLines(_ batch: RecordBatch, bad: inout Int) -> [UInt8] {
        var out: [UInt8] = []
        for item in batch.items {
            var line: [UInt8]?
            switch item {
            case .record(let raw):
                switch parseRecord(batch, raw) {
                case .success(let json):
                    var text: [UInt8] = mark ? [UInt8(ascii: "+")] : []
                    (keepOrder ? JSONWriter.compact : JSONWriter.canonical).write(json, into: &text)
                    line = text
                case .failure(let error):
                    bad += 1
                    let relative = "\(error.kind.rawValue) at byte \(error.offset - raw.location.offset)"
                    if mark { line = Array("-\(relative)".utf8) } else { printError("\(input):\(raw.location.line): \(relative)") }
                }
            case .problem(let reject):
                bad += 1
                if mark { line = Array("-\(reject.reason.rawValue): \(reject.detail)".utf8) } else { printError("\(reject.place): \(reject.detail)") }
            case .context:
                break
            }
            if let line {
                out += line
                out.append(0x0A)
            }
        }
        return out
    }
}
