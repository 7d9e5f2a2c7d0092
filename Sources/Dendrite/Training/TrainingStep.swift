/// One step of supervised training, the unit the trainer loops over and the benchmarks time:
/// load a batch, forward, softmax cross-entropy, backward, optimizer update. Allocates nothing once warm.
///
/// With a ``GradientSync`` the step is data-parallel: this process trains on its share of the batch, its
/// gradients are averaged over the whole batch and summed over the ranks while backward runs, and the
/// loss (and the correct count) it reports are the whole batch's.
public final class TrainingStep {
    public let model: Layer
    public let optimizer: Optimizer
    public let tape: Tape
    public let gradientSync: GradientSync?
    private var predictions: [Int32]
    /// The run's seed: with the optimizer's step count it keys the step's random draws (dropout masks).
    public var seed: UInt64 = 0

    /// What one step reports, over the whole batch (all ranks).
    public struct Outcome {
        /// The mean loss of the batch.
        public var loss: Float
        public var rows: Int
        /// Rows whose largest logit is at the label (when asked for; else 0).
        public var correct: Int
    }

    public init(model: Layer, optimizer: Optimizer, backend: Backend, profiler: Profiler? = nil,
                gradientSync: GradientSync? = nil, batchSize: Int = 0) {
        self.model = model
        self.optimizer = optimizer
        tape = Tape(backend: backend, profiler: profiler)
        self.gradientSync = gradientSync
        predictions = [Int32](repeating: 0, count: batchSize)
        if let gradientSync {
            gradientSync.profiler = profiler
            tape.afterEachBackwardOp = { gradientSync.gradientsMayBeReady() }
        }
    }

    public var backend: Backend { tape.backend }

    /// Trains on batch `index` of `batcher`'s current order. `beforeUpdate` sees the batch's loss once the
    /// gradients are computed and before the optimizer uses them; throwing there skips the update.
    /// `countCorrect` also counts the batch's correct predictions (for a log line).
    @discardableResult
    public func run(_ batcher: Batcher, batch index: Int, countCorrect: Bool = false,
                    beforeUpdate: (_ loss: Float) throws -> Void) rethrows -> Outcome {
        let profiler = tape.profiler
        return try profiled(profiler, "train.step", .step, m: batcher.batchSize) {
            tape.reset()  // first: it releases the views of the last batch, so loading can reuse its buffer
            tape.randomKey = Tape.randomKey(seed: seed, step: optimizer.step)
            let rows = batcher.load(batch: index, on: tape.backend, profiler: profiler)
            let batchRows = batcher.rows(inBatch: index)
            tape.firstRowInBatch = batcher.group.share(of: batchRows).lowerBound
            var outcome = Outcome(loss: 0, rows: rows, correct: 0)
            if rows > 0 {
                let logits = model(batcher.images, on: tape)
                let loss = batcher.withLabels(rows: rows) { tape.softmaxCrossEntropy(logits, labels: $0, gradientRows: batchRows) }
                outcome.loss = loss.value.scalar
                if countCorrect { outcome.correct = batcher.withLabels(rows: rows) { correctCount(logits, $0) } }
                gradientSync?.beginStep()
                if outcome.loss.isFinite { tape.backward(from: loss) }  // a non-finite loss is beforeUpdate's to report
            } else {
                gradientSync?.beginStep()
            }
            if let gradientSync {
                var lossSum = Double(outcome.loss) * Double(rows)
                gradientSync.finish(lossSum: &lossSum, rows: &outcome.rows, correct: &outcome.correct)
                outcome.loss = Float(lossSum / Double(Swift.max(outcome.rows, 1)))
            }
            try beforeUpdate(outcome.loss)
            optimizer.update(on: tape.backend, profiler: profiler)
            gradientSync?.shareUpdatedWeights()  // each rank updated its shard
            return outcome
        }
    }

    /// Trains on batch `index` of `batcher`'s current order.
    @discardableResult
    public func run(_ batcher: Batcher, batch index: Int) -> Outcome {
        run(batcher, batch: index, beforeUpdate: { _ in })
    }

    private func correctCount(_ logits: Variable, _ labels: UnsafeBufferPointer<Int32>) -> Int {
        if predictions.count < labels.count { predictions = [Int32](repeating: 0, count: labels.count) }
        return countCorrect(logits: logits, labels: labels, backend: tape.backend, into: &predictions)
    }
}
