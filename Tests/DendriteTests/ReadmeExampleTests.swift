import Testing
@testable import Dendrite

/// The README's "Use from Swift" example, on a toy dataset instead of Fashion-MNIST: if this stops
/// compiling or learning, the README is wrong.
@Suite struct ReadmeExampleTests {
    @Test func readmeExampleTrains() throws {
        let data = try DataFolder(path: writeSyntheticFolder(train: 512, test: 128, side: 6))
        var generator = SeededGenerator(seed: 0)
        let model = Sequential(
            Flatten(),
            Dense(inputs: 36, outputs: 32, generator: &generator), ActivationLayer(.relu),
            Dense(inputs: 32, outputs: 32, generator: &generator), ActivationLayer(.relu),
            Dense(inputs: 32, outputs: 4, generator: &generator))
        let tape = Tape(backend: try Backends.select("c"))
        let optimizer = Adam(parameters: model.parameters, learningRate: 0.001)
        let batcher = Batcher(dataset: data.train, batchSize: 16)
        let before = Evaluator(model: model, dataset: data.test, backend: tape.backend).evaluate()
        for _ in 0..<3 {
            batcher.startEpoch(shuffle: &generator)
            for batch in 0..<batcher.batchesPerEpoch {
                tape.reset()  // before loading: frees last step's views of the batch buffer
                let rows = batcher.load(batch: batch, on: tape.backend)
                let loss = batcher.withLabels(rows: rows) { tape.softmaxCrossEntropy(model(batcher.images, on: tape), labels: $0) }
                tape.backward(from: loss)
                optimizer.update(on: tape.backend, profiler: nil)
            }
        }
        let after = Evaluator(model: model, dataset: data.test, backend: tape.backend).evaluate()
        #expect(after.loss < before.loss / 2, "loss \(before.loss) → \(after.loss)")
        #expect(after.accuracy > 0.9, "accuracy \(after.accuracy)")
    }
}
