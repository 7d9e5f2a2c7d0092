import Dendrite
import Foundation

/// Whole training steps of the lab's 784-256-256-10 ReLU MLP with Adam, batch 128, on random data:
/// what the kernels add up to, overheads of the tape and the optimizer included.
enum TrainingCases {
    static let batchSize = 128
    static let epochImages = 60_000
    static let inputs = 784, classes = 10

    /// Matmul FLOPs of one sample, 2·K·N per product: each layer's forward and weight gradient, and
    /// the input gradient of every layer but the first (images need none).
    static var flopsPerSample: Double {
        let widths = [inputs] + TrainingConfiguration().hidden + [classes]
        let products = zip(widths, widths.dropFirst()).map { 2 * Double($0 * $1) }
        return products.reduce(0) { $0 + 3 * $1 } - products[0]
    }

    static func all(quick: Bool) -> [BenchCase] {
        [
            BenchCase(name: "training step, batch \(batchSize)", group: "training",
                      work: .training(samples: batchSize, flops: Double(batchSize) * flopsPerSample),
                      includesOpenBLAS: true, checksAllocations: true) {
                let images = FloatBuffer(count: batchSize * inputs, in: 0...1, seed: 1)
                let labels = randomLabels(count: batchSize, classes: classes)
                return { backend in
                    let trainer = try StepTrainer(backend: backend)
                    let input = Variable(Tensor(shape: Shape(batchSize, inputs),
                                                values: Array(UnsafeBufferPointer(start: images.pointer, count: images.count))))
                    return { labels.withUnsafeBufferPointer { trainer.step(input, labels: $0) } }
                }
            },
            // Shuffling and batching included: 469 steps, the last one of 96 images.
            BenchCase(name: "training epoch, \(epochImages) images", group: "training",
                      work: .training(samples: epochImages, flops: Double(epochImages) * flopsPerSample),
                      includesOpenBLAS: true, maxSamples: quick ? 1 : 3) {
                let dataset = try syntheticDataset(count: epochImages)
                return { backend in
                    let trainer = try StepTrainer(backend: backend)
                    let batcher = Batcher(dataset: dataset, batchSize: batchSize)
                    var generator = SeededGenerator(seed: 3)
                    return {
                        batcher.startEpoch(shuffle: &generator)
                        for batch in 0..<batcher.batchesPerEpoch {
                            let rows = batcher.load(batch: batch, on: backend)
                            batcher.withLabels(rows: rows) { trainer.step(batcher.images, labels: $0) }
                        }
                    }
                }
            },
        ]
    }

    /// `count` random 28×28 images with random labels. `IDX.Images` has no public initializer, so the
    /// images go through a temporary IDX file, read back the way real data is.
    static func syntheticDataset(count: Int) throws -> Dataset {
        var generator = SeededGenerator(seed: 4)
        var bytes: [UInt8] = [0, 0, 0x08, 3]
        for dimension in [count, 28, 28] { bytes += withUnsafeBytes(of: UInt32(dimension).bigEndian, Array.init) }
        bytes += (0..<count * 28 * 28).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dendrite-bench-\(getpid()).idx3").path
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw DendriteError.io(path: path, problem: "cannot write the synthetic images")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let labels = (0..<count).map { _ in UInt8(generator.next() % UInt64(classes)) }
        return try Dataset(images: IDX.readImages(path: path), labels: labels, classCount: classes)
    }
}

/// The model, tape and optimizer of one backend, and the step `Trainer` runs, minus logging:
/// forward, softmax cross-entropy, backward, Adam.
final class StepTrainer {
    let model: Sequential
    let tape: Tape
    let optimizer: Adam
    let backend: Backend

    init(backend: Backend) throws {
        var configuration = TrainingConfiguration()
        configuration.inputs = TrainingCases.inputs
        configuration.classes = TrainingCases.classes
        model = try configuration.makeModel()
        tape = Tape(backend: backend)
        optimizer = Adam(parameters: model.parameters, learningRate: configuration.learningRate)
        self.backend = backend
    }

    func step(_ input: Variable, labels: UnsafeBufferPointer<Int32>) {
        tape.reset()
        let loss = tape.softmaxCrossEntropy(model(input, on: tape), labels: labels)
        tape.backward(from: loss)
        optimizer.update(on: backend, profiler: nil)
    }
}
