import Foundation
import Testing
@testable import Dendrite

/// The Swift backend's threaded kernels with 2 threads and sizes past their grain, so work is split across
/// threads; `scripts/sanitizers.sh` runs this suite under ThreadSanitizer (the C backend's OpenMP runtime
/// is not TSan-instrumented and gives false reports, so TSan covers the Swift backend only). Each result
/// must have the bits of the same work on 1 thread, the Swift kernels' guarantee: a race that changes a
/// value fails here even where TSan sees nothing. Serialized: the thread count is a process-wide setting.
@Suite(.serialized) struct ThreadSanitizerTests {
    let backend = try! Backends.named("swift")

    func values(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float(generator.nextNormal()) }
    }

    /// Runs `body` on 1 thread and on 2, restoring the thread count after, and expects the same bits
    /// (Float results are widened to Double, which keeps their bits apart).
    func expectSameBitsOnTwoThreads(_ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                                    _ body: () throws -> [Double]) rethrows {
        let saved = Threads.count
        defer { Threads.count = saved }
        Threads.count = 1
        let one = try body()
        Threads.count = 2
        let two = try body()
        guard one.count == two.count else {
            Issue.record("\(what): \(two.count) values on 2 threads, \(one.count) on 1", sourceLocation: sourceLocation)
            return
        }
        if let i = one.indices.first(where: { one[$0].bitPattern != two[$0].bitPattern }) {
            let first = "first at [\(i)] of \(one.count): \(two[i]) vs \(one[i])"
            Issue.record("\(what): 2 threads differ from 1 thread, \(first)", sourceLocation: sourceLocation)
        }
    }

    @Test func sgemmAllTransposes() {
        let n = 192
        let a = values(n * n, seed: 1), b = values(n * n, seed: 2)
        expectSameBitsOnTwoThreads("sgemm, beta 0.5, all four transposes in turn") {
            var c = values(n * n, seed: 3)
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                backend.gemm.sgemm(transA: transA, transB: transB, m: n, n: n, k: n, alpha: 1, a: a, lda: n, b: b,
                                   ldb: n, beta: 0.5, c: &c, ldc: n)
            }
            return c.map(Double.init)
        }
    }

    @Test func softmaxAndCrossEntropy() {
        let rows = 512, cols = 100
        let logits = values(rows * cols, seed: 3)
        let labels = (0..<rows).map { Int32($0 % cols) }
        expectSameBitsOnTwoThreads("softmax, then cross-entropy: probabilities, losses, gradient, mean loss") {
            var probabilities = [Float](repeating: 0, count: rows * cols)
            backend.losses.softmaxForward(out: &probabilities, input: logits, rows: rows, cols: cols)
            var losses = [Float](repeating: 0, count: rows), gradient = [Float](repeating: 0, count: rows * cols)
            let mean = backend.losses.softmaxCrossEntropy(losses: &losses, dlogits: &gradient, logits: logits,
                                                          labels: labels, rows: rows, cols: cols,
                                                          gradScale: 1 / Float(rows))
            return (probabilities + losses + gradient).map(Double.init) + [mean]
        }
    }

    @Test func sums() {
        let x = values(1 << 20, seed: 4)
        expectSameBitsOnTwoThreads("sum and sum of squares of 2^20 values") {
            [backend.elementwise.sum(x, count: x.count), backend.elementwise.sumOfSquares(x, count: x.count)]
        }
    }

    /// Every kernel of a training step at once: forward, backward, Adam; the trained weights and the test loss.
    @Test func trainingSteps() throws {
        let data = try DataFolder(path: writeSyntheticFolder(train: 512, test: 64, side: 16))
        try expectSameBitsOnTwoThreads("one epoch of training: weights and test loss") {
            var options = TrainingOptions(runDirectory: temporaryFolder())
            options.configuration.model = mlp([256])
            options.configuration.batchSize = 256
            options.configuration.epochs = 1
            options.logEvery = 0
            let trainer = try Trainer(options: options, data: data, backend: backend) { _ in }
            let summary = try trainer.run()
            return trainer.model.parameters.flatMap(\.value.scalars).map(Double.init) + [summary.testLoss]
        }
    }
}
