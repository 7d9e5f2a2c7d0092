/// Loss and accuracy of a model over a whole dataset, in file order, without recording gradients.
/// Owns its own tape and batch buffers, so evaluating mid-training disturbs nothing of the training step.
/// In a process group each rank evaluates its share of every batch and the sums are added over the ranks.
public final class Evaluator {
    public let model: Layer
    private let batcher: Batcher
    private let tape: Tape
    private var predictions: [Int32]

    public init(model: Layer, dataset: Dataset, backend: Backend, batchSize: Int = 1000, profiler: Profiler? = nil,
                group: ProcessGroup = .single) {
        self.model = model
        batcher = Batcher(dataset: dataset, batchSize: batchSize, group: group)
        tape = Tape(backend: backend, profiler: profiler)
        tape.isRecording = false
        predictions = [Int32](repeating: 0, count: batchSize)
        batcher.startInOrder()
    }

    /// Mean cross-entropy and accuracy over every example.
    public func evaluate() -> (loss: Double, accuracy: Double) {
        profiled(tape.profiler, "evaluate", .evaluation, m: batcher.dataset.count) { evaluateAll() }
    }

    private func evaluateAll() -> (loss: Double, accuracy: Double) {
        var sums = [0.0, 0.0]  // loss·rows, correct
        for index in 0..<batcher.batchesPerEpoch {
            tape.reset()
            let rows = batcher.load(batch: index, on: tape.backend, profiler: tape.profiler)
            guard rows > 0 else { continue }
            let logits = model(batcher.images, on: tape)
            batcher.withLabels(rows: rows) { labels in
                let loss = tape.softmaxCrossEntropy(logits, labels: labels)
                sums[0] += Double(loss.value.scalar) * Double(rows)
                sums[1] += Double(countCorrect(logits: logits, labels: labels, backend: tape.backend, into: &predictions))
            }
        }
        sums.withUnsafeMutableBufferPointer { batcher.group.sum($0) }
        let count = Double(batcher.dataset.count)
        return (sums[0] / count, sums[1] / count)
    }
}

/// How many rows of `logits` have their largest value at the label; `predictions` must hold a row each.
func countCorrect(logits: Variable, labels: UnsafeBufferPointer<Int32>, backend: Backend,
                  into predictions: inout [Int32]) -> Int {
    let rows = logits.value.shape.rows
    precondition(predictions.count >= rows, "countCorrect: \(predictions.count) prediction slots for \(rows) rows")
    return predictions.withUnsafeMutableBufferPointer { out in
        backend.losses.argmaxRows(out: out.baseAddress!, input: logits.value.pointer, rows: rows, cols: logits.value.shape.cols)
        var correct = 0
        for r in 0..<rows where out[r] == labels[r] { correct += 1 }
        return correct
    }
}
