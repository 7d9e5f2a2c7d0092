import Dendrite
import Foundation

/// Whole training steps of the lab's 784-256-256-10 ReLU MLP with Adam, batch 128, on random data:
/// what the kernels add up to, overheads of the tape and the optimizer included; then the same for
/// the convolutional presets.
enum TrainingCases {
    static let batchSize = 128
    static let epochImages = 60_000
    static let exampleShape = [28, 28, 1], inputs = 784, classes = 10

    /// Product FLOPs of one sample, 2·K·N per product (times the output pixels for a convolution):
    /// each layer's forward and weight gradient, and the input gradient of every layer but the first
    /// (images need none).
    static func flopsPerSample(_ spec: ModelSpec = TrainingConfiguration().model) -> Double {
        var input = exampleShape, products: [Double] = []
        for layer in try! spec.resolve(inputShape: exampleShape, classes: classes) {
            switch layer.spec {
            case .dense(let units, _): products.append(2 * Double(input.reduce(1, *) * units))
            case .conv(let filters, let kernel, _, _, _, _):
                products.append(2 * Double(layer.outputShape[0] * layer.outputShape[1] * kernel.rows * kernel.cols
                                           * input[2] * filters))
            default: break
            }
            input = layer.outputShape
        }
        return products.reduce(0) { $0 + 3 * $1 } - products[0]
    }
    static let mlpFlopsPerSample = flopsPerSample()

    static func all(quick: Bool) -> [BenchCase] {
        [
            BenchCase(name: "training step, batch \(batchSize)", group: "training",
                      work: .training(samples: batchSize, flops: Double(batchSize) * mlpFlopsPerSample),
                      includesOpenBLAS: true, checksAllocations: true) {
                let dataset = syntheticDataset(count: stepDatasetImages)
                return { backend in try stepsThroughEpochs(makeStep(backend: backend), dataset) }
            },
            // The same step with the profiler recording every op: its cost is this row's ratio to the one above.
            BenchCase(name: "training step, batch \(batchSize), profiled", group: "training",
                      work: .training(samples: batchSize, flops: Double(batchSize) * mlpFlopsPerSample)) {
                let dataset = syntheticDataset(count: stepDatasetImages)
                return { backend in
                    try stepsThroughEpochs(makeStep(backend: backend, profiler: Profiler(traceCapacity: 0)), dataset)
                }
            },
            // Shuffling and batching included: 469 steps, the last one of 96 images.
            BenchCase(name: "training epoch, \(epochImages) images", group: "training",
                      work: .training(samples: epochImages, flops: Double(epochImages) * mlpFlopsPerSample),
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
        ] + ModelSpec.presetNames.map { name in
            let spec = ModelSpec.preset(name, classes: classes)!
            return BenchCase(name: "training step \(name), batch \(batchSize)", group: "training",
                             work: .training(samples: batchSize, flops: Double(batchSize) * flopsPerSample(spec)),
                             checksAllocations: true) {
                let dataset = syntheticDataset(count: stepDatasetImages)
                return { backend in try stepsThroughEpochs(makeStep(backend: backend, model: spec), dataset) }
            }
        }
    }

    /// Images for the step cases: an epoch's worth, in whole batches, so every step has 128 rows.
    static let stepDatasetImages = (epochImages + batchSize - 1) / batchSize * batchSize

    /// One call trains on the next batch, reshuffling at each epoch's start, as `dendrite train` does.
    /// Training on one batch over and over instead memorizes it: its gradients underflow to subnormal
    /// floats, which this CPU handles slowly, a state real training does not reach.
    /// A batcher per backend: a shared one would be reloaded while another tape still views it.
    static func stepsThroughEpochs(_ step: TrainingStep, _ dataset: Dataset) -> Runner {
        let batcher = Batcher(dataset: dataset, batchSize: batchSize)
        var generator = SeededGenerator(seed: 3)
        var batch = 0
        return {
            if batch == 0 { batcher.startEpoch(shuffle: &generator) }
            step.run(batcher, batch: batch)
            batch = (batch + 1) % batcher.batchesPerEpoch
        }
    }

    /// The lab's model (or `model`) and Adam on `backend`, as `dendrite train` builds them.
    static func makeStep(backend: Backend, profiler: Profiler? = nil, model: ModelSpec? = nil) throws -> TrainingStep {
        var configuration = TrainingConfiguration()
        if let model { configuration.model = model }
        configuration.inputShape = exampleShape
        configuration.classes = classes
        let model = try configuration.makeModel()
        let optimizer = configuration.makeOptimizer(for: model.parameters)
        return TrainingStep(model: model, optimizer: optimizer, backend: backend, profiler: profiler)
    }

    /// `count` random 28×28 images with random labels.
    static func syntheticDataset(count: Int) -> Dataset {
        var generator = SeededGenerator(seed: 4)
        let pixels = (0..<count * inputs).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let labels = (0..<count).map { _ in UInt8(generator.next() % UInt64(classes)) }
        return try! Dataset(images: Images(count: count, height: 28, width: 28, pixels: pixels),
                            labels: labels, classCount: classes)
    }
}
