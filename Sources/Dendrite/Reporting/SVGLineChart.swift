import Foundation

/// A small dependency-free line chart: one or two y axes (the right one fixed to 0–1 for accuracies).
struct SVGLineChart {
    struct Series {
        let name: String, color: String
        let x: [Double], y: [Double]
        let rightAxis: Bool
    }

    let title: String, xLabel: String
    let series: [Series]
    let width = 720.0, height = 400.0, margin = 56.0

    func render() -> String {
        let allX = series.flatMap(\.x), leftY = series.filter { !$0.rightAxis }.flatMap(\.y).filter(\.isFinite)
        let xMin = allX.min() ?? 0, xMax = Swift.max(allX.max() ?? 1, xMin + 1)
        let yMax = Swift.max(leftY.max() ?? 1, 1e-9)
        let plotW = width - 2 * margin, plotH = height - 2 * margin
        func px(_ x: Double) -> Double { margin + (x - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double, right: Bool) -> Double {
            let top = right ? 1.0 : yMax
            return margin + plotH - Swift.min(Swift.max(y / top, 0), 1) * plotH
        }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="24" text-anchor="middle" font-size="16">\(title)</text>
        <rect x="\(margin)" y="\(margin)" width="\(plotW)" height="\(plotH)" fill="none" stroke="#888"/>
        <text x="\(width / 2)" y="\(height - 12)" text-anchor="middle">\(xLabel)</text>

        """
        for tick in 0...4 {
            let f = Double(tick) / 4
            let y = margin + plotH - f * plotH
            svg += "<text x=\"\(margin - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(String(format: "%.3g", f * yMax))</text>\n"
            svg += "<text x=\"\(width - margin + 6)\" y=\"\(y + 4)\">\(String(format: "%.2f", f))</text>\n"
            let x = xMin + f * (xMax - xMin)
            svg += "<text x=\"\(px(x))\" y=\"\(height - margin + 16)\" text-anchor=\"middle\">\(Int(x))</text>\n"
        }
        for (i, s) in series.enumerated() {
            let points = zip(s.x, s.y).filter { $0.1.isFinite }
                .map { String(format: "%.1f,%.1f", px($0.0), py($0.1, right: s.rightAxis)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.5\" points=\"\(points)\"/>\n"
            // The legend sits in a row between the title and the plot, clear of the lines.
            svg += "<text x=\"\(margin + Double(i) * 200)\" y=\"\(margin - 10)\" fill=\"\(s.color)\">\(s.name)\(s.rightAxis ? " (right axis)" : "")</text>\n"
        }
        return svg + "</svg>\n"
    }
}
