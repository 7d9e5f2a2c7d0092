import Foundation

/// Everything that defines a training run; stored in every checkpoint so a resume can check it continues
/// the same run. Defaults reproduce the lab: 784-256-256-10, ReLU, RandomNormal, Adam 0.001, batch 128.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    public var hidden: [Int] = [256, 256]
    public var activation = "relu"
    public var initializer = "normal"
    public var optimizer = "adam"
    public var learningRate: Float = 0.001
    public var momentum: Float = 0
    public var batchSize = 128
    public var epochs = 1
    public var seed: UInt64 = 0
    public var backend = "c"
    public var threads = 0
    /// Filled in from the data: features per image and number of classes.
    public var inputs = 0
    public var classes = 0

    public init() {}

    /// The fields that must match for a checkpoint to continue this run (epochs may grow; threads and
    /// backend may change, at the price of bitwise equality with an uninterrupted run).
    public func resumeMismatches(_ saved: TrainingConfiguration) -> [String] {
        var problems: [String] = []
        func check<T: Equatable>(_ name: String, _ mine: T, _ theirs: T) {
            if mine != theirs { problems.append("\(name) is \(theirs) in the checkpoint, \(mine) now") }
        }
        check("--hidden", hidden, saved.hidden)
        check("--activation", activation, saved.activation)
        check("inputs", inputs, saved.inputs)
        check("classes", classes, saved.classes)
        check("--optimizer", optimizer, saved.optimizer)
        check("--batch-size", batchSize, saved.batchSize)
        check("--seed", seed, saved.seed)
        check("--lr", learningRate, saved.learningRate)
        check("--momentum", momentum, saved.momentum)
        return problems
    }

    /// The lab's network: Flatten, then Dense+activation per hidden size, then a Dense to the classes.
    public func makeModel() throws -> Sequential {
        guard let activation = Activation(name: activation) else {
            throw DendriteError.invalidArgument("unknown activation '\(self.activation)'; valid: \(Activation.names.joined(separator: ", "))")
        }
        guard let initializer = Initializer(name: initializer) else {
            throw DendriteError.invalidArgument("unknown initializer '\(self.initializer)'; valid: \(Initializer.names.joined(separator: ", "))")
        }
        var generator = SeededGenerator(seed: seed)
        var layers: [Layer] = [Flatten()]
        var width = inputs
        for size in hidden {
            layers.append(Dense(inputs: width, outputs: size, initializer: initializer, generator: &generator))
            layers.append(ActivationLayer(activation))
            width = size
        }
        layers.append(Dense(inputs: width, outputs: classes, initializer: initializer, generator: &generator))
        return Sequential(layers)
    }

    public func makeOptimizer(for parameters: [Variable]) throws -> Optimizer {
        switch optimizer {
        case "adam": return Adam(parameters: parameters, learningRate: learningRate)
        case "sgd": return SGD(parameters: parameters, learningRate: learningRate, momentum: momentum)
        default: throw DendriteError.invalidArgument("unknown optimizer '\(optimizer)'; valid: adam, sgd")
        }
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}
