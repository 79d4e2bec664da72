import ByteJSON
import Crypto
import Foundation

/// Completion records of a run's steps, under `<output>/.trajforge/done/`. A step is done when its
/// record exists, names the same fingerprint (its settings and the digests of its inputs) and its
/// outputs still have the recorded sizes. Outputs are written atomically before the record, and
/// the record is written atomically last, so a run killed at any moment leaves either a finished
/// step or one that will run again.
final class StepStore {
    let root: String
    var doneDirectory: String { root + "/.trajforge/done" }
    /// SHA-256 of files this run produced or read, so a file is hashed once.
    private var digests: [String: String] = [:]
    private let lock = NSLock()

    init(root: String) { self.root = root }

    struct Record {
        var id: String
        var fingerprint: String
        var outputs: [(path: String, bytes: Int, sha256: String)]
        var ledgers: [Ledger]
        var extra: JSON

        var json: JSON {
            ["id": .string(id), "fingerprint": .string(fingerprint),
             "outputs": .array(outputs.map { ["path": .string($0.path), "bytes": .number(JSONNumber($0.bytes)), "sha256": .string($0.sha256)] }),
             "ledgers": .array(ledgers.map(\.json)), "extra": extra]
        }

        init(id: String, fingerprint: String, outputs: [(path: String, bytes: Int, sha256: String)], ledgers: [Ledger], extra: JSON) {
            self.id = id
            self.fingerprint = fingerprint
            self.outputs = outputs
            self.ledgers = ledgers
            self.extra = extra
        }

        init?(json: JSON) {
            guard let id = json["id"]?.string, let fp = json["fingerprint"]?.string, let outs = json["outputs"]?.array else { return nil }
            self.id = id
            fingerprint = fp
            outputs = outs.compactMap { o in
                guard let p = o["path"]?.string, let b = o["bytes"]?.int, let s = o["sha256"]?.string else { return nil }
                return (p, b, s)
            }
            ledgers = (json["ledgers"]?.array ?? []).compactMap(Ledger.init(json:))
            extra = json["extra"] ?? .null
        }
    }

    func recordPath(_ id: String) -> String { doneDirectory + "/" + id.replacingOccurrences(of: "/", with: "__") + ".json" }

    /// Paths in records are relative to the output folder, so a finished run can be moved.
    func relative(_ path: String) -> String { path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path }
    func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : root + "/" + path }

    /// The finished record of `id` if its fingerprint matches and its outputs are intact.
    func finished(_ id: String, fingerprint: String) -> Record? {
        guard let data = FileManager.default.contents(atPath: recordPath(id)), let json = try? JSON.parse([UInt8](data)),
              let record = Record(json: json), record.fingerprint == fingerprint
        else { return nil }
        for o in record.outputs {
            let attributes = try? FileManager.default.attributesOfItem(atPath: absolute(o.path))
            guard let size = attributes?[.size] as? Int, size == o.bytes else { return nil }
        }
        lock.lock()
        for o in record.outputs { digests[absolute(o.path)] = o.sha256 }
        lock.unlock()
        return record
    }

    func forget(_ id: String) { try? FileManager.default.removeItem(atPath: recordPath(id)) }

    func save(_ record: Record) throws(IOError) {
        let file = try OutputFile(path: recordPath(record.id), compression: OutputCompression(.none))
        try file.write(record.json.serializedBytes(.pretty) + [0x0A])
        try file.commit()
    }

    /// SHA-256 of a file's bytes (cached for the run).
    func digest(_ path: String) throws(IOError) -> String {
        lock.lock()
        if let d = digests[path] {
            lock.unlock()
            return d
        }
        lock.unlock()
        let d = try StepStore.hashFile(path)
        lock.lock()
        digests[path] = d
        lock.unlock()
        return d
    }

    func remember(_ path: String, _ digest: String) {
        lock.lock()
        digests[path] = digest
        lock.unlock()
    }

    static func hashFile(_ path: String) throws(IOError) -> String {
        let source = try FileSource(path: path)
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try source.read(into: &buffer)
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Removes temporary files an interrupted run left beside `paths` (`.<name>.tmp-<pid>-<n>`),
    /// only those of file `named` when given.
    static func removeStaleTemporaries(beside paths: [String], named: String?) {
        var folders: Set<String> = []
        for p in paths { folders.insert(URL(fileURLWithPath: p).deletingLastPathComponent().path) }
        for folder in folders {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where isTemporary(name) {
                if let named, !name.hasPrefix("." + named + ".tmp-") { continue }
                try? FileManager.default.removeItem(atPath: folder + "/" + name)
            }
        }
    }

    /// Removes every temporary file under `root`.
    /// Every file under `folder` (recursively, in path order), hidden names skipped.
    static func visibleFiles(under folder: String) -> [String] {
        var out: [String] = []
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        for name in names {
            let path = folder + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue { out += visibleFiles(under: path) } else { out.append(path) }
        }
        return out
    }

    static func removeStaleTemporaries(under root: String) {
        let e = FileManager.default.enumerator(atPath: root)
        while let p = e?.nextObject() as? String {
            if isTemporary(URL(fileURLWithPath: p).lastPathComponent) { try? FileManager.default.removeItem(atPath: root + "/" + p) }
        }
    }

    static func isTemporary(_ name: String) -> Bool { name.hasPrefix(".") && name.contains(".tmp-") }
}
