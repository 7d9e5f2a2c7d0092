import Foundation

/// A one-line progress bar with samples/s and ETA, redrawn in place (for terminals only).
struct ProgressBar {
    let total: Int
    private var lastDraw = Date.distantPast
    private var start = Date()
    private var startCount: Int?

    init(total: Int) { self.total = total }

    mutating func advance(to done: Int, samplesPerSecond: Double) {
        if startCount == nil { startCount = done - 1; start = Date() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = now
        let width = 30
        let fraction = Double(done) / Double(Swift.max(total, 1))
        let filled = Int(fraction * Double(width))
        let rate = Double(done - startCount!) / Swift.max(now.timeIntervalSince(start), 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r[%@] %d/%d  %.0f samples/s  ETA %.1fs ", bar, done, total, samplesPerSecond, eta)
        FileHandle.standardOutput.write(Data(line.utf8))
    }

    func clear() {
        FileHandle.standardOutput.write(Data(("\r" + String(repeating: " ", count: 90) + "\r").utf8))
    }
}
