import Foundation

/// The profiler's figures as a table in the layout PyTorch users know: name, shape, calls, self time and
/// its share, total time, mean, and GFLOP/s or GB/s where the work is known; sorted by self time.
public struct ProfileTable {
    public let profiler: Profiler
    public init(profiler: Profiler) { self.profiler = profiler }

    /// Seconds, milliseconds or microseconds, whichever reads best.
    public static func formatTime(nanoseconds: Double) -> String {
        if nanoseconds >= 1e9 { return String(format: "%.3f s", nanoseconds / 1e9) }
        if nanoseconds >= 1e6 { return String(format: "%.3f ms", nanoseconds / 1e6) }
        return String(format: "%.3f µs", nanoseconds / 1e3)
    }

    public func render() -> String {
        let rows = profiler.stats.sorted { $0.selfNanoseconds > $1.selfNanoseconds }
        let selfSum = Double(rows.reduce(0) { $0 + $1.selfNanoseconds })
        let header = ["Name", "Shape", "Calls", "Self", "Self %", "Total", "Mean", "Rate"]
        var table: [[String]] = [header]
        for row in rows {
            let total = Double(row.totalNanoseconds)
            let rate: String
            if row.flopsPerCall > 0, total > 0 {
                rate = String(format: "%.1f GFLOP/s", row.flopsPerCall * Double(row.calls) / total)
            } else if row.bytesPerCall > 0, total > 0 {
                rate = String(format: "%.1f GB/s", row.bytesPerCall * Double(row.calls) / total)
            } else {
                rate = ""
            }
            table.append([row.name, row.shape, String(row.calls), Self.formatTime(nanoseconds: Double(row.selfNanoseconds)),
                          String(format: "%.1f%%", selfSum > 0 ? 100 * Double(row.selfNanoseconds) / selfSum : 0),
                          Self.formatTime(nanoseconds: total),
                          Self.formatTime(nanoseconds: total / Double(Swift.max(row.calls, 1))), rate])
        }
        table.append(["Total", "", String(rows.reduce(0) { $0 + $1.calls }), Self.formatTime(nanoseconds: selfSum),
                      "100.0%", "", "", ""])
        let widths = header.indices.map { c in table.map { $0[c].count }.max()! }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c < 2 ? cell + pad : pad + cell  // names left, numbers right
            }.joined(separator: "  ")
        }
        var out = [rule, line(table[0]), rule]
        out += table.dropFirst().dropLast().map(line)
        out += [rule, line(table.last!), rule]
        if profiler.droppedEvents > 0 { out.append("(\(profiler.droppedEvents) trace events over capacity were not kept)") }
        return out.joined(separator: "\n")
    }
}
