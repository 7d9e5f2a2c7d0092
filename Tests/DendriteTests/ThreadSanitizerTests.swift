import Foundation
import Testing
@testable import Dendrite

/// The Swift backend's threaded kernels with 2 threads and sizes past their grain, so work is split across
/// threads; `scripts/sanitizers.sh` runs this suite under ThreadSanitizer (the C backend's OpenMP runtime
/// is not TSan-instrumented and gives false reports, so TSan covers the Swift backend only).
/// Serialized: the thread count is a process-wide setting.
@Suite(.serialized) struct ThreadSanitizerTests {
    let backend: Backend = {
        let backend = try! Backends.named("swift")
        Threads.count = 2
        return backend
    }()

    func values(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float(generator.nextNormal()) }
    }

    @Test func sgemmAllTransposes() {
        let n = 192
        let a = values(n * n, seed: 1), b = values(n * n, seed: 2)
        var c = [Float](repeating: 1, count: n * n)
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            backend.gemm.sgemm(transA: transA, transB: transB, m: n, n: n, k: n, alpha: 1, a: a, lda: n, b: b, ldb: n,
                          beta: 0.5, c: &c, ldc: n)
        }
        #expect(c.allSatisfy { $0.isFinite })
    }

    @Test func softmaxAndCrossEntropy() {
        let rows = 512, cols = 100
        let logits = values(rows * cols, seed: 3)
        let labels = (0..<rows).map { Int32($0 % cols) }
        var probabilities = [Float](repeating: 0, count: rows * cols)
        backend.losses.softmaxForward(out: &probabilities, input: logits, rows: rows, cols: cols)
        var losses = [Float](repeating: 0, count: rows), gradient = [Float](repeating: 0, count: rows * cols)
        let mean = backend.losses.softmaxCrossEntropy(losses: &losses, dlogits: &gradient, logits: logits, labels: labels,
                                               rows: rows, cols: cols, gradScale: 1 / Float(rows))
        #expect(mean.isFinite && mean > 0)
        #expect(abs(backend.elementwise.sum(probabilities, count: rows * cols) - Double(rows)) < 1e-2)
    }

    @Test func sums() {
        let x = values(1 << 20, seed: 4)
        #expect(backend.elementwise.sum(x, count: x.count).isFinite)
        #expect(backend.elementwise.sumOfSquares(x, count: x.count) > 0)
    }

    /// Every kernel of a training step at once: forward, backward, Adam.
    @Test func trainingSteps() throws {
        let data = try DataFolder(path: writeSyntheticFolder(train: 512, test: 64, side: 16))
        var options = TrainingOptions(runDirectory: temporaryFolder())
        options.configuration.model = mlp([256])
        options.configuration.batchSize = 256
        options.configuration.epochs = 1
        options.logEvery = 0
        let summary = try Trainer(options: options, data: data, backend: backend) { _ in }.run()
        #expect(summary.testLoss.isFinite)
    }
}
