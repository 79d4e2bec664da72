import ByteJSON
import Foundation

/// Writes a report folder (stats.json, report.md, report.html) and reads stats.json back.
public enum StatsOutput {
    public static let jsonName = "stats.json"
    public static let markdownName = "report.md"
    public static let htmlName = "report.html"

    /// Opens the three files of `report` (a stats or a compare value) in `folder`; the caller
    /// commits them (atomically, with its other outputs).
    public static func files(_ report: JSON, folder: String) throws(IOError) -> [OutputFile] {
        let compare = report["kind"]?.string == "compare"
        let texts: [(String, [UInt8])] = [
            (jsonName, report.serializedBytes(.pretty) + [0x0A]),
            (markdownName, Array((compare ? MarkdownReport.renderComparison(report) : MarkdownReport.render(report)).utf8)),
            (htmlName, Array((compare ? HTMLReport.renderComparison(report) : HTMLReport.render(report)).utf8)),
        ]
        var out: [OutputFile] = []
        for (name, bytes) in texts {
            let file = try OutputFile(path: folder + "/" + name, compression: OutputCompression(.none))
            try file.write(bytes)
            out.append(file)
        }
        return out
    }

    /// A stats report written earlier: `path` is a stats.json file or a folder holding one.
    /// Nil when `path` is anything else (an input to compute the report from).
    public static func loadReport(_ path: String) -> JSON? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        let file = isDir.boolValue ? path + "/" + jsonName : path
        if isDir.boolValue, FileManager.default.fileExists(atPath: path + "/manifest.json") { return nil }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
              let size = attributes[.size] as? Int, size < 256 << 20,
              let data = FileManager.default.contents(atPath: file)
        else { return nil }
        // A stats report is one pretty-printed object that starts with its kind.
        let head = String(decoding: data.prefix(64), as: UTF8.self)
        guard head.contains("\"kind\"") else { return nil }
        guard let json = try? JSON.parse([UInt8](data)), json["kind"]?.string == "stats" else { return nil }
        return json
    }
}
