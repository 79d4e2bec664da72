import ByteJSON
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TrajForge

/// Checks that an SVG fragment is well-formed XML.
final class XMLCheck: NSObject, XMLParserDelegate {
    var error: Error?
    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }

    static func wellFormed(_ fragment: String) -> Bool {
        let parser = XMLParser(data: Data(fragment.utf8))
        let check = XMLCheck()
        parser.delegate = check
        return parser.parse() && check.error == nil
    }
}

/// The <figure>…</figure> blocks of a page.
func figures(_ html: String) -> [String] {
    var out: [String] = []
    var rest = html[...]
    while let start = rest.range(of: "<figure>"), let end = rest.range(of: "</figure>", range: start.upperBound..<rest.endIndex) {
        out.append(String(rest[start.lowerBound..<end.upperBound]))
        rest = rest[end.upperBound...]
    }
    return out
}

func occurrences(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

/// The structural promises of report.html: one self-contained page, every chart an SVG with bars
/// and labels.
func checkSelfContainedHTML(_ html: String) {
    #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
    let lower = html.lowercased()
    for forbidden in ["<script", "<link", "<img", "<iframe", "<object", "<embed", "src=", "url(", "@import", "http://", "https://", "xlink:href", "javascript:"] {
        #expect(!lower.contains(forbidden), "report.html contains \(forbidden)")
    }
    // Links stay inside the page.
    for part in html.components(separatedBy: "href=\"").dropFirst() { #expect(part.hasPrefix("#")) }
    #expect(occurrences("<svg", in: html) == occurrences("</svg>", in: html))
    #expect(lower.contains("@media print"))
    let figs = figures(html)
    #expect(!figs.isEmpty)
    for fig in figs {
        #expect(fig.contains("<figcaption>"))
        guard let s = fig.range(of: "<svg"), let e = fig.range(of: "</svg>") else {
            Issue.record("a figure without an <svg>")
            continue
        }
        let svg = String(fig[s.lowerBound..<e.upperBound])
        #expect(XMLCheck.wellFormed(svg), "SVG is not well-formed XML")
        #expect(svg.contains("viewBox=") && svg.contains("<title>"))
        #expect(occurrences("<rect", in: svg) >= 1, "a chart without bars")
        #expect(occurrences("<text", in: svg) >= 3, "a chart without labels")
        #expect(svg.contains("class=\"axis-title\""), "a chart without an axis title")
        #expect(occurrences("class=\"tick\"", in: svg) >= 2, "a chart without tick labels")
    }
}

@Suite(.serialized) struct StatsReportTests {
    @Test func htmlOfTheRealRetailRunIsSelfContainedWithChartsOfBarsAndLabels() throws {
        let dir = temporaryFolder()
        let retail = try runIngest([Paths.grok], tools: Paths.retailTools, folder: dir, outputName: "retail.jsonl").output
        let filter = try CLI.run(["filter", "--verified", "--max-tool-errors", "3", retail, "-o", dir + "/verified.jsonl", "--ledger", dir + "/filter.ledger.json", "-q"])
        #expect(filter.status == 0)
        let r = try CLI.run(["stats", retail, dir + "/filter.ledger.json", dir + "/verified.drops.jsonl", Paths.fixture("stats/dedup.drops.jsonl"),
                             "-o", dir + "/audit", "--cutoff", "4000", "--title", "retail <audit> & \"checks\"",
                             "--tokenizer", Paths.shared + "/tokenizers/llama-3.1", "--ledger", dir + "/stats.ledger.json"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: dir + "/audit/report.html", encoding: .utf8)
        checkSelfContainedHTML(html)
        #expect(html.contains("<title>retail &lt;audit&gt; &amp; &quot;checks&quot;</title>"))
        for id in ["overview", "funnel", "outcomes", "shape", "tools", "domains", "tokens", "duplicates", "scripts", "method"] {
            #expect(html.contains("<section id=\"\(id)\">"), "section \(id)")
        }
        #expect(html.contains("cutoff 4,000"))
        // The funnel shows the filter ledger's figures; its drops file agrees with the ledger.
        let report = try JSON.parse(try readBytes(dir + "/audit/stats.json"))
        let ledger = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/filter.ledger.json"))) as! [String: Any]
        let stage = report["funnel"]?["stages"]?.array?.first { $0["stage"] == "filter" }
        #expect(stage?["input"]?.int == ledger["input"] as? Int && stage?["kept"]?.int == ledger["kept"] as? Int)
        var reasons: [String: Int] = [:]
        for line in try String(contentsOfFile: dir + "/verified.drops.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            reasons[o["reason"] as! String, default: 0] += 1
        }
        #expect(reasons == ledger["dropped"] as? [String: Int])
        for (reason, n) in reasons { #expect(stage?["dropped"]?[reason]?.int == n) }
        #expect(stage?["listed_drops"]?.int == reasons.values.reduce(0, +))
        // The command's own ledger balances: every record read was counted or rejected.
        let own = try JSON.parse(try readBytes(dir + "/stats.ledger.json"))
        #expect(own["input"]?.int == 115 + 1 + reasons.values.reduce(0, +) + 9 && own["kept"] == own["input"])
        let md = try String(contentsOfFile: dir + "/audit/report.md", encoding: .utf8)
        #expect(md.hasPrefix("# retail <audit>") && md.contains("| get_order_details |"))
    }

    @Test func compareShowsBothSidesAndTheirDeltas() throws {
        let dir = temporaryFolder()
        let retail = try runIngest([Paths.grok], tools: Paths.retailTools, folder: dir, outputName: "retail.jsonl").output
        #expect(try CLI.run(["filter", "--verified", retail, "-o", dir + "/verified.jsonl", "-q"]).status == 0)
        let verified = try readJSONL(dir + "/verified.jsonl")
        // B from a stats.json written earlier, A computed now.
        #expect(try CLI.run(["stats", dir + "/verified.jsonl", "-o", dir + "/b", "-q"]).status == 0)
        let r = try CLI.run(["stats", "--compare", retail, dir + "/b/stats.json", "--labels", "all,verified", "-o", dir + "/cmp"])
        #expect(r.status == 0, "\(r.stderr)")
        let compare = try JSON.parse(try readBytes(dir + "/cmp/stats.json"))
        #expect(compare["kind"] == "compare" && compare["a"]?["label"] == "all" && compare["b"]?["label"] == "verified")
        let deltas = Dictionary(uniqueKeysWithValues: (compare["deltas"]?.array ?? []).map { ($0["key"]!.string!, $0) })
        #expect(deltas["trajectories.count"]?["a"] == 115 && deltas["trajectories.count"]?["b"]?.int == verified.count)
        #expect(deltas["trajectories.count"]?["delta"]?.int == verified.count - 115)
        #expect(deltas["trajectories.success_rate"]?["b"] == 1 && deltas["trajectories.failure"]?["b"] == 0)
        let calls = verified.reduce(0) { acc, t in acc + (t["messages"]?.array ?? []).reduce(0) { $0 + ($1["tool_calls"]?.array?.count ?? 0) } }
        #expect(deltas["tools.calls"]?["b"]?.int == calls)
        let html = try String(contentsOfFile: dir + "/cmp/report.html", encoding: .utf8)
        checkSelfContainedHTML(html)
        #expect(html.contains("class=\"cmp\"") && html.contains("A: all") && html.contains("B: verified"))
        #expect(String(decoding: r.stdout, as: UTF8.self).contains("figures differ"))
    }

    @Test func cliRejectsUnreadableRecordsAndStrictExits65() throws {
        let dir = temporaryFolder()
        let r = try CLI.run(["stats", Paths.fixture("stats/mixed.jsonl"), "-o", dir, "--strict"])
        #expect(r.status == 65)
        #expect(r.stderr.contains("stats: in 13 = kept 10 + dropped 0 + rejected 3"))
        let rejects = try readJSONL(dir + "/stats.rejects.jsonl")
        #expect(rejects.count == 3 && rejects.allSatisfy { $0["file"]?.string == Paths.fixture("stats/mixed.jsonl") && $0["line"]?.int != nil })
        #expect(FileManager.default.fileExists(atPath: dir + "/report.html"))
        #expect(try CLI.run(["stats", "--compare", "a.jsonl"]).status == 64)
        #expect(try CLI.run(["stats", "/nonexistent.jsonl", "-o", temporaryFolder()]).status == 74)
        let help = try CLI.run(["stats", "--help"])
        let text = String(decoding: help.stdout, as: UTF8.self)
        #expect(help.status == 0 && text.contains("Examples:") && text.contains("--compare"))
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 80 })
    }

    @Test func emptyAndLedgerOnlyInputsStillMakeAReport() throws {
        let dir = temporaryFolder()
        let empty = dir + "/empty.jsonl"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let (report, ledger, _) = try runStats([empty, Paths.fixture("stats/ingest.ledger.json")])
        #expect(ledger.input == 1 && report["trajectories"]?["count"] == 0 && report["splits"]?.array?.isEmpty == true)
        #expect(report["inputs"]?[1]?["split"] == .null)
        let html = HTMLReport.render(report)
        checkSelfContainedHTML(html)
        #expect(!html.contains("id=\"tools\""))
        let md = MarkdownReport.render(report)
        #expect(md.contains("## Funnel of the run") && md.contains("| ingest | 20 | 18 |"))
    }
}
