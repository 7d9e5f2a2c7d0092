import Foundation

/// The per-iteration record of a run, written as CSV (`metrics.csv`) and drawn as an SVG (`metrics.svg`).
public struct MetricsLog {
    public struct Row: Equatable {
        public var epoch: Int, iteration: Int, step: Int
        public var trainLoss: Double, trainAccuracy: Double, testAccuracy: Double
        public var elapsedSeconds: Double
    }

    public static let csvFileName = "metrics.csv", svgFileName = "metrics.svg"
    public private(set) var rows: [Row] = []
    public init() {}

    public mutating func append(_ row: Row) { rows.append(row) }

    public var csv: String {
        var text = "epoch,iteration,step,train_loss,train_accuracy,test_accuracy,elapsed_seconds\n"
        for r in rows {
            text += "\(r.epoch),\(r.iteration),\(r.step),\(r.trainLoss),\(r.trainAccuracy),\(r.testAccuracy),"
                + String(format: "%.3f", r.elapsedSeconds) + "\n"
        }
        return text
    }

    /// Loss (left axis) and accuracies (right axis, 0–1) against the training step.
    public var svg: String {
        let steps = rows.map { Double($0.step) }
        return SVGLineChart(title: "Training", xLabel: "step", series: [
            .init(name: "train loss", color: "#d62728", x: steps, y: rows.map(\.trainLoss), rightAxis: false),
            .init(name: "train accuracy", color: "#1f77b4", x: steps, y: rows.map(\.trainAccuracy), rightAxis: true),
            .init(name: "test accuracy", color: "#2ca02c", x: steps, y: rows.map(\.testAccuracy), rightAxis: true),
        ]).render()
    }

    /// Writes both files into `folder` (atomically: a crash leaves the previous versions).
    public func write(to folder: String) throws {
        try AtomicFile.write(Array(csv.utf8), to: "\(folder)/\(MetricsLog.csvFileName)")
        try AtomicFile.write(Array(svg.utf8), to: "\(folder)/\(MetricsLog.svgFileName)")
    }
}

extension MetricsLog {
    /// Reads back a `metrics.csv`, keeping the rows up to `step` (a resumed run continues the log).
    public init(csvAt path: String, upToStep step: Int) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            guard f.count == 7, let e = Int(f[0]), let i = Int(f[1]), let s = Int(f[2]), let l = Double(f[3]),
                  let a = Double(f[4]), let t = Double(f[5]), let el = Double(f[6]) else { continue }
            if s <= step {
                append(Row(epoch: e, iteration: i, step: s, trainLoss: l, trainAccuracy: a, testAccuracy: t, elapsedSeconds: el))
            }
        }
    }
}
