import Foundation

/// report.html: training curves and the confusion matrix as inline SVG, plain string building,
/// no scripts or external assets, so the file opens anywhere and can be archived with the run.
public enum Report {
    /// One polyline of a chart.
    public struct Series: Sendable {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, color: String, points: [(x: Double, y: Double)]) {
            self.name = name; self.color = color; self.points = points
        }
    }

    /// One picture of a gallery: an image (a data URI, so the page stays one file) and caption lines.
    public struct Figure: Sendable {
        public var image: String
        public var caption: [String]
        /// Shown on hover (the file's path).
        public var title: String
        public init(image: String, caption: [String], title: String) { self.image = image; self.caption = caption; self.title = title }
    }

    /// The whole page. `details` are (label, value) rows shown in a summary table (model, recipe, ...).
    /// `marks` are vertical lines on the curves at x (epoch) with a label: phase boundaries, the best epoch.
    /// `topLosses`: the validation images the model got most wrong, with `topLossesNote` above them.
    public static func html(title: String, log: MetricsLog, confusion: ConfusionMatrix? = nil,
                            classNames: [String]? = nil, details: [(String, String)] = [],
                            marks: [(x: Double, label: String)] = [], topLosses: [Figure] = [],
                            topLossesNote: String = "") -> String {
        let e = log.epochs
        let loss = [
            Series(name: "train loss", color: "#1f77b4", points: e.map { (Double($0.epoch), $0.trainLoss) }),
            Series(name: "val loss", color: "#ff7f0e", points: e.compactMap { m in m.valLoss.map { (Double(m.epoch), $0) } }),
        ]
        let acc = [
            Series(name: "train accuracy", color: "#1f77b4", points: e.compactMap { m in m.trainAccuracy.map { (Double(m.epoch), $0) } }),
            Series(name: "val accuracy", color: "#ff7f0e", points: e.compactMap { m in m.valAccuracy.map { (Double(m.epoch), $0) } }),
        ]
        var body = "<h1>\(escape(title))</h1>\n"
        if !details.isEmpty {
            body += "<table class=\"details\">\n"
            for (k, v) in details { body += "<tr><th>\(escape(k))</th><td>\(escape(v))</td></tr>\n" }
            body += "</table>\n"
        }
        let lr = [Series(name: "learning rate", color: "#2ca02c", points: e.map { (Double($0.epoch), $0.lr) })]
        body += "<h2>Loss</h2>\n" + lineChart(loss, yLabel: "loss", marks: marks) + "\n"
        body += "<h2>Accuracy</h2>\n" + lineChart(acc, yLabel: "accuracy", yRange: (0, 1), marks: marks) + "\n"
        body += "<h2>Learning rate</h2>\n<p>At the last step of each epoch (the head's rate; the trunk's is scaled by trunk_lr_scale).</p>\n"
            + lineChart(lr, yLabel: "learning rate", marks: marks) + "\n"
        if let confusion {
            body += "<h2>Confusion matrix</h2>\n<p>Accuracy \(String(format: "%.4f", confusion.accuracy)) on \(confusion.total) images; rows are true classes, columns predictions.</p>\n"
            body += confusionSVG(confusion, classNames: classNames) + "\n"
            body += "<h2>Per class</h2>\n" + classTable(confusion, classNames: classNames) + "\n"
        }
        if !topLosses.isEmpty {
            body += "<h2>Top losses</h2>\n<p>\(escape(topLossesNote))</p>\n" + gallery(topLosses) + "\n"
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:sans-serif;margin:2em;color:#222}table.details th{text-align:left;padding-right:1em}svg{display:block;margin:1em 0}table.classes{border-collapse:collapse}table.classes td,table.classes th{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}table.classes td:first-child{text-align:left}div.gallery{display:flex;flex-wrap:wrap;gap:12px}div.gallery figure{margin:0;font-size:12px;max-width:240px}div.gallery img{display:block;image-rendering:auto}</style>
        </head><body>
        \(body)</body></html>

        """
    }

    public static func write(to url: URL, title: String, log: MetricsLog, confusion: ConfusionMatrix? = nil,
                             classNames: [String]? = nil, details: [(String, String)] = [],
                             marks: [(x: Double, label: String)] = [], topLosses: [Figure] = [],
                             topLossesNote: String = "") throws {
        try AtomicFile.write(html(title: title, log: log, confusion: confusion, classNames: classNames, details: details,
                                  marks: marks, topLosses: topLosses, topLossesNote: topLossesNote), to: url)
    }

    /// Figures side by side, wrapping.
    public static func gallery(_ figures: [Figure]) -> String {
        var s = "<div class=\"gallery\">\n"
        for fig in figures {
            s += "<figure title=\"\(escape(fig.title))\"><img src=\"\(fig.image)\" alt=\"\(escape(fig.caption.first ?? ""))\">"
                + "<figcaption>\(fig.caption.map(escape).joined(separator: "<br>"))</figcaption></figure>\n"
        }
        return s + "</div>"
    }

    /// Precision, recall, F1 and support per class, as an HTML table.
    public static func classTable(_ m: ConfusionMatrix, classNames: [String]? = nil) -> String {
        let names = classNames ?? (0..<m.classCount).map { "class\($0)" }
        var s = "<table class=\"classes\">\n<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n"
        for c in 0..<m.classCount {
            s += "<tr><td>\(escape(c < names.count ? names[c] : "class\(c)"))</td><td>\(String(format: "%.3f", m.precision(c)))</td>"
                + "<td>\(String(format: "%.3f", m.recall(c)))</td><td>\(String(format: "%.3f", m.f1(c)))</td><td>\(m.support(c))</td></tr>\n"
        }
        return s + "</table>"
    }

    /// Round tick values (1, 2 or 5 times a power of ten) covering `lo...hi`, about `count` of them,
    /// so axes read 0.2 0.4 0.6 rather than 0.615.
    public static func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var ticks: [Double] = []
        var t = ceil(lo / step - 1e-9) * step
        while t <= hi + step * 1e-9 { ticks.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return ticks
    }

    /// An SVG line chart of x/y series with axes, ticks and a legend. The x axis is ticked at whole
    /// numbers, labelled by `xTick` (epochs; decades of a log10 axis); `markers` draws each point.
    public static func lineChart(_ series: [Series], yLabel: String, yRange: (Double, Double)? = nil,
                                 width: Int = 760, height: Int = 320, marks: [(x: Double, label: String)] = [],
                                 xLabel: String = "epoch", xTick: (Int) -> String = { "\($0)" }, markers: Bool = true) -> String {
        // The legend has its own column right of the plot, so it never covers a curve.
        let left = 60.0, right = 140.0, top = 20.0, bottom = 40.0
        let pw = Double(width) - left - right, ph = Double(height) - top - bottom
        let all = series.flatMap(\.points).filter { $0.y.isFinite }
        let xs = all.map(\.x), ys = all.map(\.y)
        let xMin = xs.min() ?? 0, xMax = max(xs.max() ?? 1, xMin + 1)
        var (yMin, yMax) = yRange ?? (min(ys.min() ?? 0, 0), ys.max() ?? 1)
        if yMax <= yMin { yMax = yMin + 1 }
        let yTicks = niceTicks(yMin, yMax)
        if yRange == nil, let last = yTicks.last, let first = yTicks.first {   // the axis ends on round values
            let step = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
            yMax = last < yMax - 1e-12 ? last + step : last
            yMin = min(first, yMin)
        }
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y - yMin) / (yMax - yMin)) * ph }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-size=\"11\">\n"
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#999\"/>\n"
        for y in niceTicks(yMin, yMax) {
            s += "<line x1=\"\(f(left))\" y1=\"\(f(py(y)))\" x2=\"\(f(left + pw))\" y2=\"\(f(py(y)))\" stroke=\"#eee\"/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(py(y) + 4))\" text-anchor=\"end\">\(String(format: "%g", y))</text>\n"
        }
        for (i, m) in marks.enumerated() where m.x >= xMin && m.x <= xMax {
            s += "<line x1=\"\(f(px(m.x)))\" y1=\"\(f(top))\" x2=\"\(f(px(m.x)))\" y2=\"\(f(top + ph))\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>"
            s += "<text x=\"\(f(px(m.x) + 3))\" y=\"\(f(top + 11 + Double(i % 2) * 12))\" fill=\"#555\">\(escape(m.label))</text>\n"
        }
        let xTicks = Set(xs.map { Int($0.rounded(.up)) }.filter { Double($0) <= xMax }).sorted()
        let stride = max(1, xTicks.count / 10)
        for (i, x) in xTicks.enumerated() where i % stride == 0 {
            s += "<text x=\"\(f(px(Double(x))))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">\(escape(xTick(x)))</text>"
        }
        s += "\n<text x=\"\(f(left + pw / 2))\" y=\"\(height - 6)\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        s += "<text transform=\"translate(14,\(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (i, ser) in series.enumerated() {
            let pts = ser.points.filter { $0.y.isFinite }
            if pts.count > 1 {
                let path = pts.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            }
            for p in pts where markers {
                s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(ser.color)\"><title>\(escape(ser.name)) epoch \(Int(p.x)): \(String(format: "%.4f", p.y))</title></circle>"
            }
            let ly = top + 14 + Double(i) * 16
            s += "\n<rect x=\"\(f(left + pw + 12))\" y=\"\(f(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(ser.color)\"/>"
            s += "<text x=\"\(f(left + pw + 27))\" y=\"\(f(ly))\">\(escape(ser.name))</text>\n"
        }
        return s + "</svg>"
    }

    /// The confusion matrix as a heat-map grid: cell shade is the row-normalised rate (recall per
    /// true class), the number is the count; class names label rows (true) and columns (predicted).
    public static func confusionSVG(_ m: ConfusionMatrix, classNames: [String]? = nil, cell: Int = 36) -> String {
        let n = m.classCount
        let names = classNames ?? (0..<n).map { "class\($0)" }
        let label = min(160, 7 * (names.map(\.count).max() ?? 4) + 12)
        let size = Double(cell)
        let x0 = Double(label), y0 = Double(label)
        let w = Int(x0 + size * Double(n)) + 10, h = Int(y0 + size * Double(n)) + 30
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" font-size=\"11\">\n"
        for r in 0..<n {
            let support = max(m.support(r), 1)
            for c in 0..<n {
                let v = m.counts[r][c]
                let rate = Double(v) / Double(support)
                let x = x0 + Double(c) * size, y = y0 + Double(r) * size
                let shade = Int(255 - 200 * rate)
                let fill = "rgb(\(shade),\(shade),255)"
                s += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(cell)\" height=\"\(cell)\" fill=\"\(fill)\" stroke=\"#fff\">"
                s += "<title>true \(escape(names[r])), predicted \(escape(names[c])): \(v)</title></rect>"
                s += "<text x=\"\(f(x + size / 2))\" y=\"\(f(y + size / 2 + 4))\" text-anchor=\"middle\" fill=\"\(rate > 0.6 ? "#fff" : "#000")\">\(v)</text>\n"
            }
            s += "<text x=\"\(f(x0 - 6))\" y=\"\(f(y0 + Double(r) * size + size / 2 + 4))\" text-anchor=\"end\">\(escape(names[r]))</text>\n"
        }
        for c in 0..<n {
            let x = x0 + Double(c) * size + size / 2
            s += "<text transform=\"translate(\(f(x)),\(f(y0 - 6))) rotate(-60)\" text-anchor=\"start\">\(escape(names[c]))</text>\n"
        }
        s += "<text x=\"\(f(x0 + size * Double(n) / 2))\" y=\"\(h - 8)\" text-anchor=\"middle\">predicted</text>\n"
        return s + "</svg>"
    }

    public static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
