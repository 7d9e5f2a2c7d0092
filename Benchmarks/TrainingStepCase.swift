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
                let dataset = syntheticDataset(count: batchSize)
                return { backend in
                    // A batcher per backend: a shared one would be reloaded while another tape still views it.
                    let batcher = Batcher(dataset: dataset, batchSize: batchSize)
                    let step = try makeStep(backend: backend)
                    return { step.run(batcher, batch: 0) }
                }
            },
            // The same step with the profiler recording every op: its cost is this row's ratio to the one above.
            BenchCase(name: "training step, batch \(batchSize), profiled", group: "training",
                      work: .training(samples: batchSize, flops: Double(batchSize) * flopsPerSample)) {
                let dataset = syntheticDataset(count: batchSize)
                return { backend in
                    let batcher = Batcher(dataset: dataset, batchSize: batchSize)
                    let step = try makeStep(backend: backend, profiler: Profiler(traceCapacity: 0))
                    return { step.run(batcher, batch: 0) }
                }
            },
            // Shuffling and batching included: 469 steps, the last one of 96 images.
            BenchCase(name: "training epoch, \(epochImages) images", group: "training",
                      work: .training(samples: epochImages, flops: Double(epochImages) * flopsPerSample),
                      includesOpenBLAS: true, maxSamples: quick ? 1 : 3) {
                let dataset = syntheticDataset(count: epochImages)
                return { backend in
                    let batcher = Batcher(dataset: dataset, batchSize: batchSize)
                    let step = try makeStep(backend: backend)
                    var generator = SeededGenerator(seed: 3)
                    return {
                        batcher.startEpoch(shuffle: &generator)
                        for batch in 0..<batcher.batchesPerEpoch { step.run(batcher, batch: batch) }
                    }
                }
            },
        ]
    }

    /// The lab's model and Adam on `backend`, as `dendrite train` builds them.
    static func makeStep(backend: Backend, profiler: Profiler? = nil) throws -> TrainingStep {
        var configuration = TrainingConfiguration()
        configuration.inputs = inputs
        configuration.classes = classes
        let model = try configuration.makeModel()
        let optimizer = try configuration.makeOptimizer(for: model.parameters)
        return TrainingStep(model: model, optimizer: optimizer, backend: backend, profiler: profiler)
    }

    /// `count` random 28×28 images with random labels.
    static func syntheticDataset(count: Int) -> Dataset {
        var generator = SeededGenerator(seed: 4)
        let pixels = (0..<count * inputs).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let labels = (0..<count).map { _ in UInt8(generator.next() % UInt64(classes)) }
        return try! Dataset(images: IDX.Images(count: count, height: 28, width: 28, pixels: pixels),
                            labels: labels, classCount: classes)
    }
}
