/// One step of supervised training, the unit the trainer loops over and the benchmarks time:
/// load a batch, forward, softmax cross-entropy, backward, optimizer update. Allocates nothing once warm.
public final class TrainingStep {
    public let model: Layer
    public let optimizer: Optimizer
    public let tape: Tape
    /// The run's seed: with the optimizer's step count it keys the step's random draws (dropout masks).
    public var seed: UInt64 = 0

    public init(model: Layer, optimizer: Optimizer, backend: Backend, profiler: Profiler? = nil) {
        self.model = model
        self.optimizer = optimizer
        tape = Tape(backend: backend, profiler: profiler)
    }

    public var backend: Backend { tape.backend }

    /// Trains on batch `index` of `batcher`'s current order. `beforeUpdate` sees the loss once the gradients
    /// are computed and before the optimizer uses them; throwing there skips the update.
    /// Returns the loss and the logits (valid until the next step).
    @discardableResult
    public func run(_ batcher: Batcher, batch index: Int,
                    beforeUpdate: (_ loss: Float) throws -> Void) rethrows -> (loss: Float, logits: Variable) {
        let profiler = tape.profiler
        return try profiled(profiler, "train.step", .step, m: batcher.batchSize) {
            tape.reset()  // first: it releases the views of the last batch, so loading can reuse its buffer
            tape.randomKey = Tape.randomKey(seed: seed, step: optimizer.step)
            let rows = batcher.load(batch: index, on: tape.backend, profiler: profiler)
            let logits = model(batcher.images, on: tape)
            let loss = batcher.withLabels(rows: rows) { tape.softmaxCrossEntropy(logits, labels: $0) }
            let value = loss.value.scalar
            if value.isFinite { tape.backward(from: loss) }  // a non-finite loss is beforeUpdate's to report
            try beforeUpdate(value)
            optimizer.update(on: tape.backend, profiler: profiler)
            return (value, logits)
        }
    }

    /// Trains on batch `index` of `batcher`'s current order; returns the loss and the logits.
    @discardableResult
    public func run(_ batcher: Batcher, batch index: Int) -> (loss: Float, logits: Variable) {
        run(batcher, batch: index, beforeUpdate: { _ in })
    }
}
