import ArgumentParser
import ByteJSON
import Foundation
import TrajForge

struct ShardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shard",
        abstract: "Write records into checksummed training shards: JSONL.gz, WebDataset tar or MosaicML MDS, with manifest.json.",
        discussion: """
            Any record stream works (trajectories, SFT samples, pairs): each record
            must be a JSON object. The output folder gets the shards, manifest.json
            (per shard: records, uncompressed and compressed bytes, SHA-256; totals;
            the options; the inputs' SHA-256; the trajforge version) and, for MDS,
            index.json. Standard output gets the list readers take.

            Formats (--format):
              jsonl       train-00000-of-00012.jsonl.gz, one record per line;
                          datasets.load_dataset("json", data_files=[...]) reads it
              webdataset  train-000000.tar.zst, one sample per record: <key>.json
                          is the record, plus a member per --member. webdataset
                          reads .tar and .tar.gz as they are, and .tar.zst
                          through "pipe:zstd -dc <url>" (Python < 3.14)
              mds         shard.00000.mds.zstd + index.json, byte for byte as
                          mosaicml-streaming's MDSWriter writes them;
                          streaming.StreamingDataset(local=DIR) reads them

            Compression: gzip (zlib, no time in the header) or zstd (the size in
            the frame header); default gzip for jsonl, zstd for webdataset and
            mds. Levels: gzip 0-9 (default 6; 9 for mds, as mosaicml-streaming),
            zstd 1-22 (default 3). Every shard is compressed on its own, in
            parallel: the bytes are the same for any --threads. JSONL and
            webdataset shards are compressed while they are read (a zstd shard
            of 4 MiB or more gets its size written into the header at the end).

            Shard size: a shard closes before a record that would take it over
            --max-shard-bytes uncompressed bytes (default 64MiB; for mds the
            size_limit rule of mosaicml-streaming, headers included) or past
            --max-shard-records. A record bigger than the limit gets a shard of
            its own. Memory stays below (threads + 2) x the shard size.

            --shuffle (or --seed N) orders the records by a seeded hash of their
            position (splitmix64 of the seed and the index). It is deterministic
            and goes through temporary bucket files, so memory does not grow with
            the input (buckets go to --temp-dir, default DIR/.trajforge-partial).

            MDS columns (--column NAME:ENCODING, repeatable): json, str, bytes (a
            string's UTF-8 bytes), int (int64), int8 ... uint64, ndarray:<int type>
            (a list of integers, e.g. token ids or labels), ndarray:<type>:<length>.
            Without --column every top-level key of the first record becomes a
            json column. Records with a missing column, an undeclared key or a
            value that does not fit are rejected (file, line, reason).

            Reliability: shards are written under temporary names in
            DIR/.trajforge-partial and renamed into place when all are done;
            manifest.json comes last. An interrupted run leaves no file that looks
            finished. --resume re-reads the inputs, keeps every shard whose
            recorded size and SHA-256 still match and writes the rest: the result
            is byte-identical to an uninterrupted run.

            Examples:
              trajforge shard train.jsonl -o shards/train --max-shard-bytes 256MiB
              trajforge shard --format webdataset --shuffle --seed 7 \\
                  --member txt=text sft.jsonl -o wds/train
              trajforge shard --format mds --column id:str --column text:str \\
                  --column input_ids:ndarray:int32 --column labels:ndarray:int32 \\
                  samples.jsonl -o mds/train
              trajforge shard --format mds samples.jsonl -o mds/train --resume
              trajforge verify mds/train && trajforge cat mds/train | head -1
            """)

    @Option(help: ArgumentHelp("Container: jsonl, webdataset or mds.", valueName: "format"))
    var format: String = "jsonl"

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The folder to write the shard set into.", valueName: "dir"))
    var output: String

    @Option(help: ArgumentHelp("Shard compression: none, gzip or zstd (default: gzip for jsonl, zstd for webdataset and mds).", valueName: "codec"))
    var compression: String?

    @Option(help: ArgumentHelp("Compression level: gzip 0-9 (default 6), zstd 1-22 (default 3).", valueName: "n"))
    var level: Int?

    @Option(help: ArgumentHelp("Close a shard before it would exceed this many uncompressed bytes (65536, 64MiB, 100MB, 1GiB).", valueName: "size"))
    var maxShardBytes: String = "64MiB"

    @Option(help: ArgumentHelp("Close a shard once it holds this many records.", valueName: "n"))
    var maxShardRecords: Int?

    @Flag(help: "Shuffle the records (seeded, deterministic) before sharding.")
    var shuffle = false

    @Option(help: ArgumentHelp("Seed of the shuffle (implies --shuffle; default 0).", valueName: "n"))
    var seed: UInt64?

    @Option(help: ArgumentHelp("The split the shards belong to (recorded in the manifest; the default file-name prefix).", valueName: "name"))
    var split: String = "train"

    @Option(help: ArgumentHelp("File-name prefix for jsonl and webdataset shards (default: the split).", valueName: "prefix"))
    var name: String?

    @Option(help: ArgumentHelp("WebDataset: take each sample's key from this string field (A-Z a-z 0-9 _ -; default: the sample's position).", valueName: "field"))
    var keyField: String?

    @Option(name: .customLong("member"), help: ArgumentHelp("WebDataset: add <key>.EXT holding the record's FIELD (a string as text, else JSON). Repeatable.", valueName: "ext=field"))
    var members: [String] = []

    @Option(name: .customLong("column"), help: ArgumentHelp("MDS: a column NAME:ENCODING (json, str, bytes, int, int8..uint64, ndarray:int32[:n]). Repeatable.", valueName: "name:encoding"))
    var columns: [String] = []

    @Option(name: .customLong("mds-hash"), help: ArgumentHelp("MDS: hash algorithm for index.json (md5, sha1, sha256, sha384, sha512; repeatable; default sha256).", valueName: "algo"))
    var mdsHashes: [String] = []

    @Flag(help: "Continue an interrupted run (or re-check a finished one): keep shards whose size and SHA-256 still match.")
    var resume = false

    @Flag(help: "Replace a shard set (or an unfinished run) already in the output folder.")
    var overwrite = false

    @Option(help: ArgumentHelp("Folder for shuffle buckets (default: inside the output folder).", valueName: "dir"))
    var tempDir: String?

    @Option(help: ArgumentHelp("Worker threads (default: all cores). Output is identical for any value.", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Reject records larger than this many bytes.", valueName: "bytes"))
    var maxRecordBytes: Int = 1 << 30

    @Option(help: ArgumentHelp("Where rejected records go (default: <dir>.rejects.jsonl beside the folder).", valueName: "path"))
    var rejects: String?

    @Option(name: .customLong("ledger"), help: ArgumentHelp("Also write the ledger as JSON to this file.", valueName: "path"))
    var ledgerPath: String?

    @Flag(help: "Exit with status 65 if any record was rejected.")
    var strict = false

    @Flag(name: .shortAndLong, help: "Print only the ledger's summary line.")
    var quiet = false

    @Argument(help: ArgumentHelp("Record files: JSONL, a JSON array, compressed or not ('-' for standard input).", valueName: "input"))
    var inputs: [String] = []

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        if maxRecordBytes < 1 { throw ValidationError("--max-record-bytes must be positive") }
        do { _ = try makeOptions() } catch let error as ShardOptionError { throw ValidationError(error.message) }
    }

    func makeOptions() throws -> ShardOptions {
        var o = ShardOptions()
        guard let f = ShardFormat(rawValue: format) else { throw ShardOptionError("--format must be jsonl, webdataset or mds (got \(format))") }
        o.format = f
        if let compression {
            guard let c = ShardCodec(rawValue: compression) else { throw ShardOptionError("--compression must be none, gzip or zstd (got \(compression))") }
            o.codec = c
        }
        o.level = level
        guard let bytes = parseByteSize(maxShardBytes) else {
            throw ShardOptionError("--max-shard-bytes: cannot read \"\(maxShardBytes)\" (examples: 65536, 64MiB, 100MB, 1GiB)")
        }
        o.maxShardBytes = bytes
        o.maxShardRecords = maxShardRecords
        o.shuffle = shuffle || seed != nil
        o.seed = seed ?? 0
        o.split = split
        o.name = name
        o.keyField = keyField
        o.members = try members.map { try WebDatasetMember.parse($0) }
        if !columns.isEmpty { o.columns = try columns.map { try MDSColumn.parse($0) } }
        if !mdsHashes.isEmpty { o.mdsHashes = mdsHashes }
        o.threads = threads ?? defaultThreadCount
        o.limits = ReaderLimits(maxRecordBytes: maxRecordBytes)
        o.resume = resume
        o.overwrite = overwrite
        o.temporaryFolder = tempDir
        try o.validate()
        return o
    }

    /// `<dir>.rejects.jsonl` beside the folder (inside it, readers globbing the folder would see it).
    var rejectsPath: String {
        if let rejects { return rejects }
        var dir = output
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        return dir + ".rejects.jsonl"
    }

    func run() throws {
        ensureUTF8Locale()
        let options = try makeOptions()
        let writer = ShardWriter(options: options, folder: output)
        let manifest: ShardManifest
        do {
            let rejectsFile = try OutputFile(path: rejectsPath, compression: OutputCompression(.none))
            manifest = try writer.run(inputs: inputs, rejects: rejectsFile)
            try rejectsFile.commit()
        } catch let error as ShardOptionError {
            printError("error: \(error.message)")
            throw ExitCode(64)
        } catch {
            printError("error: \(error)")
            if FileManager.default.fileExists(atPath: output + "/" + ShardWriter.partialFolderName) {
                printError("the shards finished so far are kept in \(output)/\(ShardWriter.partialFolderName): rerun with --resume to continue")
            }
            throw ExitCode(ExitStatus.ioFailure)
        }
        let ledger = writer.ledger
        printError(quiet ? ledger.summary : ledger.report)
        if ledger.rejectedTotal > 0 { printError("rejects: \(rejectsPath)") }
        printError(String(format: "wrote %d shard%@ to %@: %d records, %.1f MB uncompressed, %.1f MB on disk; manifest %@",
                          manifest.shards.count, manifest.shards.count == 1 ? "" : "s", output, manifest.totalRecords, Double(manifest.totalUncompressedBytes) / 1e6,
                          Double(manifest.totalCompressedBytes) / 1e6, output + "/" + ShardManifest.fileName))
        if options.resume { printError("resume: kept \(writer.reusedShards) of \(manifest.shards.count) shards, wrote \(manifest.shards.count - writer.reusedShards)") }
        // The list readers take: WebDataset/JSONL brace URLs, or the MDS folder.
        if let urls = manifest.urls {
            print(output.hasSuffix("/") ? output + urls : output + "/" + urls)
        } else if manifest.format == .mds {
            print(output)
        }
        if let path = ledgerPath {
            do {
                let file = try OutputFile(path: path, compression: OutputCompression(.none))
                try file.write(writer.ledger.json.serializedBytes(.pretty) + [0x0A])
                try file.commit()
            } catch {
                printError("error: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        if strict && ledger.rejectedTotal > 0 { throw ExitCode(ExitStatus.strictRejects) }
    }
}
