import Foundation

/// Which optimizer a run uses.
public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
    case adam, sgd
}

/// Everything that defines a training run; stored in every checkpoint so that `eval` can rebuild the
/// model and a resume can check it continues the same run. Defaults reproduce the lab: 784-256-256-10,
/// ReLU, RandomNormal, Adam 0.001, batch 128.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    public var model = ModelSpec.multilayerPerceptron(hidden: [256, 256], activation: .relu,
                                                      initializer: .randomNormal(), classes: 10)
    public var optimizer = OptimizerKind.adam
    public var learningRate: Float = 0.001
    public var momentum: Float = 0
    public var batchSize = 128
    public var epochs = 1
    public var seed: UInt64 = 0
    public var backend = "c"
    public var threads = 0
    /// Processes training together (data-parallel under `mpirun`).
    public var processes = 1
    /// Filled in from the data: the shape of one example (height, width, channels) and the class count.
    public var inputShape: [Int] = []
    public var classes = 0

    public init() {}

    /// The fields that must match for a checkpoint to continue this run (epochs may grow; threads and
    /// backend may change, at the price of bitwise equality with an uninterrupted run).
    public func resumeMismatches(_ saved: TrainingConfiguration) -> [String] {
        var problems: [String] = []
        func check<T: Equatable>(_ name: String, _ mine: T, _ theirs: T) {
            if mine != theirs { problems.append("\(name) is \(theirs) in the checkpoint, \(mine) now") }
        }
        if model != saved.model {
            problems.append("the model is '\(saved.model.layersText)' in the checkpoint, '\(model.layersText)' now")
        }
        check("the input shape", inputShape, saved.inputShape)
        check("classes", classes, saved.classes)
        check("--optimizer", optimizer, saved.optimizer)
        check("--batch-size", batchSize, saved.batchSize)
        check("--seed", seed, saved.seed)
        check("--lr", learningRate, saved.learningRate)
        check("--momentum", momentum, saved.momentum)
        return problems
    }

    /// The model of the spec, its weights drawn from the seed.
    public func makeModel() throws -> Sequential {
        try model.build(inputShape: inputShape, classes: classes, seed: seed)
    }

    public func makeOptimizer(for parameters: [Variable]) -> Optimizer {
        switch optimizer {
        case .adam: Adam(parameters: parameters, learningRate: learningRate)
        case .sgd: SGD(parameters: parameters, learningRate: learningRate, momentum: momentum)
        }
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}
