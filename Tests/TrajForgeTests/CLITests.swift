import ByteJSON
import Foundation
import Testing

/// The `trajforge` executable, built beside the test bundle by `swift build --build-tests`.
enum CLI {
    static var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The test binary may sit inside an .xctest bundle folder.
        for candidate in [dir, dir.deletingLastPathComponent(), dir.deletingLastPathComponent().deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("trajforge").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return Paths.repo.appendingPathComponent(".build/debug/trajforge").path
    }

    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
    }

    static func run(_ arguments: [String], stdin: [UInt8]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin {
            DispatchQueue.global().async {
                input.fileHandleForWriting.write(Data(stdin))
                try? input.fileHandleForWriting.close()
            }
        } else {
            try input.fileHandleForWriting.close()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: [UInt8](outData), stderr: String(decoding: errData, as: UTF8.self))
    }
}

@Suite(.serialized) struct CLITests {
    @Test func binaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: CLI.binary), "build it first: swift build --build-tests")
    }

    @Test func ingestFromStandardInputToStandardOutput() throws {
        let jsonl = try readBytes(Paths.fixture("openai/messages.jsonl"))
        let r = try CLI.run(["ingest", "-"], stdin: jsonl)
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: 0x0A).count == 2)
        #expect(r.stderr.contains("ingest: in 2 = kept 2 + dropped 0 + rejected 0"))
    }

    @Test func compressedStandardInputAndATau2DocumentOnStandardInput() throws {
        let dir = temporaryFolder()
        let gz = dir + "/x.jsonl.gz"
        let make = try CLI.run(["ingest", Paths.fixture("openai/messages.jsonl"), "-o", gz, "-q"])
        #expect(make.status == 0)
        // gzip on standard input is recognised by its magic bytes.
        let exported = try CLI.run(["export", "--to", "openai", "-", "-q"], stdin: try readBytes(gz))
        #expect(exported.status == 0)
        #expect(exported.stdout.split(separator: 0x0A).count == 2)

        let doc = try readBytes(Paths.fixture("tau2/results.json"))
        let tau2 = try CLI.run(["ingest", "-"], stdin: doc)
        #expect(tau2.status == 0)
        #expect(tau2.stdout.split(separator: 0x0A).count == 3)
        #expect(tau2.stderr.contains("tau2-bench"))
    }

    @Test func rejectsGoToStandardErrorWithStandardOutputAndStrictExits65() throws {
        let r = try CLI.run(["ingest", Paths.fixture("broken/mixed.jsonl"), "--strict"])
        #expect(r.status == 65)
        #expect(r.stdout.split(separator: 0x0A).count == 2)
        #expect(r.stderr.contains("\"reason\":\"orphan-tool-result\""))
        #expect(r.stderr.contains("rejected 7"))
    }

    @Test func rejectsFileAndLedgerBesideTheOutput() throws {
        let dir = temporaryFolder()
        let r = try CLI.run(["ingest", Paths.fixture("broken/mixed.jsonl"), "-o", dir + "/t.jsonl.zst", "--ledger", dir + "/ledger.json"])
        #expect(r.status == 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/t.rejects.jsonl"))
        #expect(try readJSONL(dir + "/t.rejects.jsonl").count == 7)
        let ledger = try JSON.parse(try readBytes(dir + "/ledger.json"))
        #expect(ledger["input"] == 9 && ledger["kept"] == 2)
        #expect(ledger["rejected"]?["invalid-json"] == 2)
    }

    @Test func usageAndIOErrorsHaveTheirExitCodes() throws {
        #expect(try CLI.run(["ingest", "--from", "bogus", "x"]).status == 64)
        #expect(try CLI.run(["ingest"]).status == 64)
        #expect(try CLI.run(["export", "x.jsonl"]).status == 64)  // --to is required
        let missing = try CLI.run(["ingest", "/nonexistent/file.jsonl", "-o", temporaryFolder() + "/o.jsonl"])
        #expect(missing.status == 74)
        #expect(missing.stderr.contains("cannot open"))
        let tools = try CLI.run(["ingest", "--tools", "/nonexistent/tools.json", Paths.fixture("openai/messages.jsonl")])
        #expect(tools.status == 74)
    }

    @Test func failedRunLeavesNoOutputFile() throws {
        let dir = temporaryFolder()
        let r = try CLI.run(["ingest", Paths.fixture("openai/messages.jsonl"), "/nonexistent.jsonl", "-o", dir + "/out.jsonl"])
        #expect(r.status == 74)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func helpTeaches() throws {
        for command in ["ingest", "export", "canon"] {
            let r = try CLI.run([command, "--help"])
            #expect(r.status == 0)
            #expect(String(decoding: r.stdout, as: UTF8.self).contains("Example") || command == "canon")
        }
    }
}
