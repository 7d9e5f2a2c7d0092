import Foundation

/// A horizontal bar chart of speed relative to the C backend: one row per case and thread count, one
/// bar per backend, on a log scale centred on 1 so "4× slower" and "4× faster" look equally long.
enum RatioChart {
    static let colors = ["c": "#4c78a8", "swift": "#f58518", "openblas": "#54a24b", "blas": "#e45756",
                         "c-avx2": "#9ecae9", "c-avx512": "#2f4b7c", "c-portable": "#bab0ac",
                         "blas1": "#e45756", "blas2": "#b279a2", "blas3": "#9d755d", "blas4": "#ff9da6"]
    static let labelWidth = 400.0, plotWidth = 520.0, barHeight = 9.0, rowGap = 8.0, top = 60.0
    /// The axis spans 1/32× to 32×; longer bars are clipped and carry their value.
    static let maxLog2 = 5.0

    static func svg(_ results: [BenchResult]) -> String {
        var rows: [(label: String, bars: [BenchResult])] = []
        for result in results {
            let label = "\(result.caseName) · \(Report.plural(result.threads, "thread"))"
            if rows.last?.label == label { rows[rows.count - 1].bars.append(result) } else { rows.append((label, [result])) }
        }
        let height = top + rows.reduce(0) { $0 + Double($1.bars.count) * barHeight + rowGap } + 20
        let width = labelWidth + plotWidth + 70
        func x(_ ratio: Double) -> Double {
            let clipped = Swift.max(-maxLog2, Swift.min(maxLog2, log2(ratio)))
            return labelWidth + plotWidth / 2 * (1 + clipped / maxLog2)
        }
        var out = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"10\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"10\" y=\"18\" font-size=\"14\">Speed relative to the C backend (C time ÷ backend time; right of 1× is faster)</text>",
        ]
        let names = ["c", "swift", "openblas", "blas", "blas1", "blas2", "blas3", "blas4", "c-avx512", "c-avx2", "c-portable"]
            .filter { name in results.contains { $0.backend == name } }
        for (i, name) in names.enumerated() {
            let lx = 10 + Double(i) * 90
            out.append("<rect x=\"\(lx)\" y=\"28\" width=\"12\" height=\"10\" fill=\"\(colors[name]!)\"/><text x=\"\(lx + 16)\" y=\"37\">\(name)</text>")
        }
        for exponent in stride(from: -4, through: 4, by: 2) {
            let ratio = pow(2, Double(exponent)), tx = x(ratio)
            let label = exponent >= 0 ? "\(Int(ratio))×" : "1/\(Int(1 / ratio))×"
            out.append("<line x1=\"\(tx)\" y1=\"\(top - 8)\" x2=\"\(tx)\" y2=\"\(height - 20)\" stroke=\"\(exponent == 0 ? "#000" : "#ddd")\"/>")
            out.append("<text x=\"\(tx)\" y=\"\(top - 12)\" text-anchor=\"middle\">\(label)</text>")
        }
        var y = top
        for row in rows {
            let rowHeight = Double(row.bars.count) * barHeight
            out.append("<text x=\"\(labelWidth - 8)\" y=\"\(y + rowHeight / 2 + 3)\" text-anchor=\"end\">\(escape(row.label))</text>")
            for bar in row.bars {
                let ratio = bar.speedVsC ?? 1, start = Swift.min(x(1), x(ratio)), end = Swift.max(x(1), x(ratio))
                out.append("<rect x=\"\(start)\" y=\"\(y)\" width=\"\(Swift.max(end - start, 1))\" height=\"\(barHeight - 1)\" fill=\"\(colors[bar.backend] ?? "#888")\"><title>\(bar.backend): \(String(format: "%.2f", ratio))×</title></rect>")
                if abs(log2(ratio)) > maxLog2 {
                    out.append("<text x=\"\(ratio > 1 ? end + 3 : labelWidth + plotWidth + 3)\" y=\"\(y + barHeight - 2)\" font-size=\"8\">\(String(format: "%.2g×", ratio))</text>")
                }
                y += barHeight
            }
            y += rowGap
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
