// Inline SVG charts for the HTML report: histograms and horizontal bar charts with axes, tick
// labels, axis titles (with units) and a <title> per bar. No scripts, no external resources; the
// SVG scales with its container (viewBox) and prints as vectors.

enum SVGChart {
    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1"]
    static let backgroundFill = "#d9e2ec"
    static let highlightFill = "#e15759"
    static let gridStroke = "#e3e3e3"
    static let axisStroke = "#555"

    /// HTML/XML text escaping.
    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A coordinate with one decimal.
    static func f(_ x: Double) -> String { StatsFormat.fixed(x, 1) }

    static func label(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1_000_000 { return StatsFormat.human(v / 1_000_000, digits: 1) + "M" }
        if a >= 100_000 { return StatsFormat.human(v / 1000, digits: 1) + "k" }
        return StatsFormat.human(v, digits: 3)
    }

    static func short(_ s: String, _ limit: Int = 30) -> String {
        s.count <= limit ? s : String(s.prefix(limit - 1)) + "…"
    }

    /// A nice axis: (maximum, step) with max ≥ `value`, 1/2/5 steps, about `ticks` of them.
    static func axis(_ value: Double, ticks: Int = 5, integer: Bool = true) -> (max: Double, step: Double) {
        guard value > 0 else { return (1, 1) }
        var step = QuantileHistogram.niceWidth(value / Double(ticks))
        if integer { step = max(1, step) }
        return ((value / step).rounded(.up) * step, step)
    }

    static func open(_ width: Int, _ height: Int, title: String, kind: String) -> String {
        "<svg class=\"chart \(kind)\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\" aria-label=\"\(esc(title))\" preserveAspectRatio=\"xMinYMin meet\"><title>\(esc(title))</title>"
    }

    // MARK: histogram

    static func histogram(title: String, bins: [Bin], xLabel: String, yLabel: String, marker: Double?, markerLabel: String?,
                          color: String = palette[0]) -> String
    {
        let W = 560.0, H = 250.0
        let left = 58.0, right = 20.0, top = 22.0, bottom = 52.0
        let x0 = left, x1 = W - right, y0 = top, y1 = H - bottom
        var s = open(Int(W), Int(H), title: title, kind: "histogram")
        guard let first = bins.first, let last = bins.last else {
            s += "<text x=\"\(f(W / 2))\" y=\"\(f(H / 2))\" text-anchor=\"middle\" class=\"empty\">no values</text></svg>"
            return s
        }
        var lo = first.lo, hi = last.hi
        var markerInside = false
        if let m = marker, m >= lo {
            if m <= hi { markerInside = true } else if m <= hi + (hi - lo) * 0.5 {
                hi = m + (hi - lo) * 0.04
                markerInside = true
            }
        }
        let span = max(hi - lo, 1e-9)
        func x(_ v: Double) -> Double { x0 + (v - lo) / span * (x1 - x0) }
        let maxCount = Double(bins.map(\.count).max() ?? 0)
        let (ymax, ystep) = axis(maxCount)
        func y(_ c: Double) -> Double { y1 - c / ymax * (y1 - y0) }
        // grid and y ticks
        var t = 0.0
        while t <= ymax + ystep / 2 {
            s += "<line x1=\"\(f(x0))\" y1=\"\(f(y(t)))\" x2=\"\(f(x1))\" y2=\"\(f(y(t)))\" stroke=\"\(gridStroke)\"/>"
            s += "<text x=\"\(f(x0 - 6))\" y=\"\(f(y(t) + 4))\" text-anchor=\"end\" class=\"tick\">\(esc(label(t)))</text>"
            t += ystep
        }
        // bars
        for b in bins where b.count > 0 {
            let bx = x(b.lo), bw = max(1, x(b.hi) - x(b.lo) - (bins.count > 60 ? 0 : 1))
            let range = b.hi - b.lo == 1 && b.lo == b.lo.rounded() ? label(b.lo) : "\(label(b.lo))–\(label(b.hi))"
            s += "<rect x=\"\(f(bx))\" y=\"\(f(y(Double(b.count))))\" width=\"\(f(bw))\" height=\"\(f(y1 - y(Double(b.count))))\" fill=\"\(color)\"><title>\(esc(range)) \(esc(xLabel)): \(StatsFormat.grouped(b.count)) \(esc(yLabel))</title></rect>"
        }
        // x axis and ticks
        s += "<line x1=\"\(f(x0))\" y1=\"\(f(y1))\" x2=\"\(f(x1))\" y2=\"\(f(y1))\" stroke=\"\(axisStroke)\"/>"
        s += "<line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x0))\" y2=\"\(f(y1))\" stroke=\"\(axisStroke)\"/>"
        let unitBins = bins.allSatisfy { $0.hi - $0.lo == 1 } && bins.count <= 40
        if unitBins {
            let stride = max(1, Int((Double(bins.count) / 12).rounded(.up)))
            for (k, b) in bins.enumerated() where k % stride == 0 {
                let cx = (x(b.lo) + x(b.hi)) / 2
                s += "<text x=\"\(f(cx))\" y=\"\(f(y1 + 16))\" text-anchor=\"middle\" class=\"tick\">\(esc(label(b.lo)))</text>"
            }
        } else {
            let (_, xstep) = axis(span, ticks: 6, integer: false)
            var v = (lo / xstep).rounded(.up) * xstep
            while v <= hi + xstep * 1e-9 {
                s += "<line x1=\"\(f(x(v)))\" y1=\"\(f(y1))\" x2=\"\(f(x(v)))\" y2=\"\(f(y1 + 4))\" stroke=\"\(axisStroke)\"/>"
                s += "<text x=\"\(f(x(v)))\" y=\"\(f(y1 + 16))\" text-anchor=\"middle\" class=\"tick\">\(esc(label(v)))</text>"
                v += xstep
            }
        }
        if let m = marker {
            let text = markerLabel ?? label(m)
            if markerInside {
                s += "<line x1=\"\(f(x(m)))\" y1=\"\(f(y0 - 4))\" x2=\"\(f(x(m)))\" y2=\"\(f(y1))\" stroke=\"\(highlightFill)\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>"
                let anchor = x(m) > (x0 + x1) / 2 ? "end" : "start"
                let dx = anchor == "end" ? -4.0 : 4.0
                s += "<text x=\"\(f(x(m) + dx))\" y=\"\(f(y0 + 6))\" text-anchor=\"\(anchor)\" class=\"marker\" fill=\"\(highlightFill)\">\(esc(text))</text>"
            } else {
                s += "<text x=\"\(f(x1))\" y=\"\(f(y0 - 8))\" text-anchor=\"end\" class=\"marker\" fill=\"\(highlightFill)\">\(esc(text)) (beyond the largest value)</text>"
            }
        }
        s += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(H - 12))\" text-anchor=\"middle\" class=\"axis-title\">\(esc(xLabel))</text>"
        s += "<text transform=\"translate(16 \(f((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"axis-title\">\(esc(yLabel))</text>"
        s += "</svg>"
        return s
    }

    // MARK: horizontal bars

    static func bars(title: String, rows: [BarRow], xLabel: String, series: [String], legend: [String], compact: Bool = false) -> String {
        let W = compact ? 560.0 : 880.0
        let labelWidth = compact ? 150.0 : 210.0, noteWidth = compact ? 150.0 : 230.0
        let labelLimit = compact ? 22 : 30
        let seriesCount = max(1, rows.map(\.values.count).max() ?? 1)
        let rowH = seriesCount > 1 ? 12.0 * Double(seriesCount) + 8 : 22.0
        let legendItems = !legend.isEmpty ? legend : (seriesCount > 1 ? series : [])
        let top = legendItems.isEmpty ? 8.0 : 30.0
        let bottom = 44.0
        let H = top + rowH * Double(max(1, rows.count)) + bottom
        let x0 = labelWidth, x1 = W - noteWidth
        var s = open(Int(W), Int(H), title: title, kind: "bars")
        if rows.isEmpty {
            s += "<text x=\"\(f(W / 2))\" y=\"\(f(H / 2))\" text-anchor=\"middle\" class=\"empty\">no values</text></svg>"
            return s
        }
        let maxValue = rows.flatMap { $0.values + [$0.background ?? 0] }.max() ?? 0
        let (xmax, xstep) = axis(maxValue, ticks: 5, integer: maxValue >= 5)
        func x(_ v: Double) -> Double { x0 + max(0, v) / xmax * (x1 - x0) }
        let y1 = top + rowH * Double(rows.count)
        var t = 0.0
        while t <= xmax + xstep / 2 {
            s += "<line x1=\"\(f(x(t)))\" y1=\"\(f(top))\" x2=\"\(f(x(t)))\" y2=\"\(f(y1))\" stroke=\"\(gridStroke)\"/>"
            s += "<text x=\"\(f(x(t)))\" y=\"\(f(y1 + 15))\" text-anchor=\"middle\" class=\"tick\">\(esc(label(t)))</text>"
            t += xstep
        }
        if !legendItems.isEmpty {
            var lx = x0
            for (k, name) in legendItems.enumerated() {
                let color = legend.isEmpty ? palette[k % palette.count] : (k == 0 ? palette[0] : highlightFill)
                s += "<rect x=\"\(f(lx))\" y=\"8\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
                s += "<text x=\"\(f(lx + 16))\" y=\"18\" class=\"legend\">\(esc(name))</text>"
                lx += 30 + Double(name.count) * 7
            }
        }
        for (k, r) in rows.enumerated() {
            let ry = top + rowH * Double(k)
            s += "<text x=\"\(f(x0 - 8))\" y=\"\(f(ry + rowH / 2 + 4))\" text-anchor=\"end\" class=\"label\">\(esc(short(r.label, labelLimit)))<title>\(esc(r.label))</title></text>"
            let barH = (rowH - 6) / Double(seriesCount)
            if let b = r.background, b > 0 {
                s += "<rect x=\"\(f(x0))\" y=\"\(f(ry + 3))\" width=\"\(f(x(b) - x0))\" height=\"\(f(rowH - 6))\" fill=\"\(backgroundFill)\"><title>\(esc(r.label)): \(esc(label(b))) in</title></rect>"
            }
            var end = x0
            for (j, v) in r.values.enumerated() {
                let by = ry + 3 + barH * Double(j)
                let w = x(v) - x0
                if v > 0 {
                    let seriesName = j < series.count ? series[j] : ""
                    s += "<rect x=\"\(f(x0))\" y=\"\(f(by))\" width=\"\(f(max(1, w)))\" height=\"\(f(barH))\" fill=\"\(palette[j % palette.count])\"><title>\(esc(r.label)) \(esc(seriesName)): \(esc(StatsFormat.human(v)))</title></rect>"
                }
                if j == 0, let h = r.highlight, h > 0 {
                    s += "<rect x=\"\(f(x0))\" y=\"\(f(by))\" width=\"\(f(max(1, x(h) - x0)))\" height=\"\(f(barH))\" fill=\"\(highlightFill)\"><title>\(esc(r.label)): \(esc(StatsFormat.human(h))) errors</title></rect>"
                }
                end = max(end, x0 + w)
            }
            if let b = r.background { end = max(end, x(b)) }
            if !r.note.isEmpty {
                s += "<text x=\"\(f(end + 6))\" y=\"\(f(ry + rowH / 2 + 4))\" class=\"note\">\(esc(r.note))</text>"
            }
        }
        s += "<line x1=\"\(f(x0))\" y1=\"\(f(top))\" x2=\"\(f(x0))\" y2=\"\(f(y1))\" stroke=\"\(axisStroke)\"/>"
        s += "<line x1=\"\(f(x0))\" y1=\"\(f(y1))\" x2=\"\(f(x1))\" y2=\"\(f(y1))\" stroke=\"\(axisStroke)\"/>"
        s += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(H - 8))\" text-anchor=\"middle\" class=\"axis-title\">\(esc(xLabel))</text>"
        s += "</svg>"
        return s
    }

    static func render(_ chart: ReportChart, compact: Bool = false) -> String {
        switch chart {
        case .histogram(let title, let bins, let xLabel, let yLabel, let marker, let markerLabel):
            histogram(title: title, bins: bins, xLabel: xLabel, yLabel: yLabel, marker: marker, markerLabel: markerLabel)
        case .bars(let title, let rows, let xLabel, let series, let legend):
            bars(title: title, rows: rows, xLabel: xLabel, series: series, legend: legend, compact: compact)
        }
    }
}
