import ByteJSON

/// report.html: one self-contained page (inline CSS and SVG; no scripts, fonts, images or links
/// outside the page) that reads well in a browser and prints on A4.
public enum HTMLReport {
    static let css = """
        :root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--accent:#4e79a7;--soft:#f6f8fa}
        *{box-sizing:border-box}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);margin:0 auto;max-width:1120px;padding:24px 28px;background:#fff}
        h1{font-size:24px;margin:0 0 4px}
        h2{font-size:19px;border-bottom:1px solid var(--line);padding-bottom:4px;margin:34px 0 10px}
        h3{font-size:15px;margin:16px 0 6px}
        p{margin:6px 0;max-width:900px}
        .sub{color:var(--muted);margin:0}
        nav ul{list-style:none;padding:0;margin:14px 0;display:flex;flex-wrap:wrap;gap:4px 16px}
        nav a{color:var(--accent);text-decoration:none}
        .cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0 14px}
        .card{border:1px solid var(--line);border-radius:6px;padding:7px 12px;min-width:130px;background:var(--soft)}
        .card .v{font-size:19px;font-weight:600;font-variant-numeric:tabular-nums}
        .card .k{color:var(--muted);font-size:12px}
        figure{margin:10px 0 18px;min-width:0}
        figcaption{font-weight:600;margin-bottom:4px}
        svg.chart{width:100%;height:auto;display:block}
        svg.histogram{max-width:560px}
        svg.bars{max-width:880px}
        .cmp svg.bars{max-width:560px}
        svg text{font-family:inherit;font-size:12px;fill:#333}
        svg .axis-title{font-size:13px;font-weight:600;fill:#222}
        svg .note{fill:#555}
        svg .marker{font-weight:600}
        svg .empty{fill:#888}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:4px 32px}
        .table-wrap{overflow-x:auto}
        table{border-collapse:collapse;margin:6px 0 16px;font-size:13px}
        caption{text-align:left;font-weight:600;padding:4px 0}
        th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top;overflow-wrap:break-word}
        th{background:var(--soft)}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
        .note-row{color:var(--muted);font-size:12px}
        .cmp{display:grid;grid-template-columns:1fr 1fr;gap:28px}
        .cmp>div{min-width:0}
        .cmp h3{color:var(--muted)}
        .up{color:#1a7f37}.down{color:#cf222e}
        footer{margin-top:40px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
        @page{size:A4;margin:12mm}
        @media print{body{max-width:none;padding:0;font-size:10pt}nav{display:none}h2{break-after:avoid}figure,table,.cards{break-inside:avoid}.charts{grid-template-columns:1fr 1fr}a{color:inherit;text-decoration:none}}
        """

    static func esc(_ s: String) -> String { SVGChart.esc(s) }

    static func head(_ title: String) -> String {
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>\(esc(title))</title>\n<style>\n\(css)\n</style>\n</head>\n<body>\n"
    }

    static func table(_ t: ReportTable) -> String {
        guard !t.rows.isEmpty else { return "" }
        var s = "<div class=\"table-wrap\"><table>"
        if let c = t.caption { s += "<caption>\(esc(c))</caption>" }
        s += "<thead><tr>"
        for (k, c) in t.columns.enumerated() { s += t.numeric[k] ? "<th class=\"n\">\(esc(c))</th>" : "<th>\(esc(c))</th>" }
        s += "</tr></thead><tbody>"
        for row in t.rows {
            s += "<tr>"
            for (k, cell) in row.enumerated() { s += k < t.numeric.count && t.numeric[k] ? "<td class=\"n\">\(esc(cell))</td>" : "<td>\(esc(cell))</td>" }
            s += "</tr>"
        }
        s += "</tbody></table></div>"
        if let n = t.note { s += "<p class=\"note-row\">\(esc(n))</p>" }
        return s + "\n"
    }

    static func cards(_ cards: [(String, String)]) -> String {
        guard !cards.isEmpty else { return "" }
        return "<div class=\"cards\">" + cards.map { "<div class=\"card\"><div class=\"v\">\(esc($0.1))</div><div class=\"k\">\(esc($0.0))</div></div>" }.joined() + "</div>\n"
    }

    static func charts(_ charts: [ReportChart], compact: Bool = false) -> String {
        var s = ""
        var grid: [String] = []
        func flush() {
            if !grid.isEmpty { s += "<div class=\"charts\">" + grid.joined() + "</div>\n" }
            grid = []
        }
        for c in charts {
            let fig = "<figure><figcaption>\(esc(c.title))</figcaption>\(SVGChart.render(c, compact: compact))</figure>"
            if case .histogram = c { grid.append(fig) } else {
                flush()
                s += fig + "\n"
            }
        }
        flush()
        return s
    }

    static func body(_ section: ReportSection, compact: Bool = false) -> String {
        var s = ""
        for p in section.paragraphs where !p.isEmpty { s += "<p>\(esc(p))</p>\n" }
        s += cards(section.cards)
        s += charts(section.charts, compact: compact)
        for t in section.tables { s += table(t) }
        return s
    }

    static func nav(_ sections: [(String, String)]) -> String {
        "<nav><ul>" + sections.map { "<li><a href=\"#\($0.0)\">\(esc($0.1))</a></li>" }.joined() + "</ul></nav>\n"
    }

    static func footer(_ report: JSON) -> String {
        "<footer>Written by trajforge stats \(esc(report["trajforge_version"]?.string ?? "")). Self-contained: no scripts or external resources. The figures are in stats.json.</footer>\n</body>\n</html>\n"
    }

    /// The HTML page of one stats report.
    public static func render(_ report: JSON) -> String {
        let title = report["title"]?.string ?? "Dataset statistics"
        let sections = ReportModel.sections(report)
        var s = head(title)
        s += "<header><h1>\(esc(title))</h1><p class=\"sub\">\(esc(subtitle(report)))</p></header>\n"
        s += nav(sections.map { ($0.id, $0.title) })
        for section in sections {
            s += "<section id=\"\(esc(section.id))\">\n<h2>\(esc(section.title))</h2>\n" + body(section) + "</section>\n"
        }
        return s + footer(report)
    }

    static func subtitle(_ report: JSON) -> String {
        let inputs = (report["inputs"]?.array ?? []).compactMap { $0["path"]?.string }
        var s = inputs.isEmpty ? "no inputs" : (inputs.count <= 4 ? inputs.joined(separator: ", ") : "\(inputs.count) inputs: " + inputs.prefix(3).joined(separator: ", ") + ", …")
        if let t = report["options"]?["tokenizer"]?.string { s += " · tokenizer \(t)" }
        if let c = report["options"]?["cutoff"]?.int { s += " · cutoff \(StatsFormat.grouped(c)) tokens" }
        return s
    }

    /// The HTML page of a comparison: the figures with their deltas, then each section of both
    /// reports side by side.
    public static func renderComparison(_ compare: JSON) -> String {
        let title = compare["title"]?.string ?? "Comparison"
        let a = compare["a"]?["report"] ?? .null, b = compare["b"]?["report"] ?? .null
        let labelA = compare["a"]?["label"]?.string ?? "A", labelB = compare["b"]?["label"]?.string ?? "B"
        let sa = ReportModel.sections(a), sb = ReportModel.sections(b)
        var ids: [(String, String)] = [("deltas", "Figures and deltas")]
        for s in sa + sb where !ids.contains(where: { $0.0 == s.id }) { ids.append((s.id, s.title)) }
        var s = head(title)
        s += "<header><h1>\(esc(title))</h1><p class=\"sub\">A: \(esc(labelA)) (\(esc(subtitle(a)))) · B: \(esc(labelB)) (\(esc(subtitle(b))))</p></header>\n"
        s += nav(ids)
        s += "<section id=\"deltas\">\n<h2>Figures and deltas</h2>\n"
        s += deltaTable(StatsComparison.deltaTable(compare))
        s += "</section>\n"
        for (id, name) in ids.dropFirst() {
            s += "<section id=\"\(esc(id))\">\n<h2>\(esc(name))</h2>\n<div class=\"cmp\">"
            for (label, sections) in [("A: " + labelA, sa), ("B: " + labelB, sb)] {
                s += "<div><h3>\(esc(label))</h3>"
                if let sec = sections.first(where: { $0.id == id }) { s += body(sec, compact: true) } else { s += "<p class=\"note-row\">nothing to show</p>" }
                s += "</div>"
            }
            s += "</div>\n</section>\n"
        }
        return s + footer(compare)
    }

    /// The deltas table, with Δ coloured by sign.
    static func deltaTable(_ t: ReportTable) -> String {
        guard !t.rows.isEmpty else { return "<p>No figures to compare.</p>" }
        var s = "<div class=\"table-wrap\"><table>"
        if let c = t.caption { s += "<caption>\(esc(c))</caption>" }
        s += "<thead><tr>" + t.columns.enumerated().map { t.numeric[$0.offset] ? "<th class=\"n\">\(esc($0.element))</th>" : "<th>\(esc($0.element))</th>" }.joined() + "</tr></thead><tbody>"
        for row in t.rows {
            s += "<tr>"
            for (k, cell) in row.enumerated() {
                var cls = t.numeric[k] ? "n" : ""
                if k >= 4 { cls += cell.hasPrefix("+") ? " up" : (cell.hasPrefix("−") ? " down" : "") }
                s += "<td class=\"\(cls)\">\(esc(cell))</td>"
            }
            s += "</tr>"
        }
        return s + "</tbody></table></div>\n"
    }
}

/// report.md: the same sections as the HTML page, as Markdown tables (charts are in report.html).
public enum MarkdownReport {
    static func cell(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "|": out += "\\|"
            case "\n", "\r": out += " "
            default: out.append(c)
            }
        }
        return out
    }

    static func table(_ t: ReportTable) -> String {
        guard !t.rows.isEmpty else { return "" }
        var s = ""
        if let c = t.caption { s += "**\(cell(c))**\n\n" }
        s += "| " + t.columns.map(cell).joined(separator: " | ") + " |\n"
        s += "|" + t.numeric.map { $0 ? "---:|" : "---|" }.joined() + "\n"
        for row in t.rows { s += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
        if let n = t.note { s += "\n_\(cell(n))_\n" }
        return s + "\n"
    }

    static func body(_ section: ReportSection) -> String {
        var s = ""
        for p in section.paragraphs where !p.isEmpty { s += p + "\n\n" }
        if !section.cards.isEmpty { s += section.cards.map { "**\($0.0)**: \($0.1)" }.joined(separator: " · ") + "\n\n" }
        for t in section.tables { s += table(t) }
        return s
    }

    public static func render(_ report: JSON) -> String {
        let title = report["title"]?.string ?? "Dataset statistics"
        var s = "# \(title)\n\n_\(HTMLReport.subtitle(report))_\n\n"
        for section in ReportModel.sections(report) { s += "## \(section.title)\n\n" + body(section) }
        return s + "---\nWritten by trajforge \(report["trajforge_version"]?.string ?? "") (`trajforge stats`); charts are in report.html, figures in stats.json.\n"
    }

    public static func renderComparison(_ compare: JSON) -> String {
        let title = compare["title"]?.string ?? "Comparison"
        let a = compare["a"]?["report"] ?? .null, b = compare["b"]?["report"] ?? .null
        let labelA = compare["a"]?["label"]?.string ?? "A", labelB = compare["b"]?["label"]?.string ?? "B"
        var s = "# \(title)\n\nA: \(labelA) (\(HTMLReport.subtitle(a)))  \nB: \(labelB) (\(HTMLReport.subtitle(b)))\n\n"
        s += "## Figures and deltas\n\n" + table(StatsComparison.deltaTable(compare))
        for (label, report) in [("A: " + labelA, a), ("B: " + labelB, b)] {
            s += "## \(label)\n\n"
            for section in ReportModel.sections(report) { s += "### \(section.title)\n\n" + body(section) }
        }
        return s
    }
}
