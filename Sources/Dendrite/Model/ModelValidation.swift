/// Checking a spec against the data it will see, in one place: each rule's message names the layer
/// (index and text form) and the rule.
extension ModelSpec {
    /// The widest layer accepted: far beyond any use, short of sizes whose products overflow.
    public static let maxUnits = 1 << 24

    /// One validated layer: what it outputs and how many parameters it has.
    public struct ResolvedLayer: Sendable {
        public let spec: LayerSpec
        /// Per example (the batch dimension left out).
        public let outputShape: [Int]
        public let parameterCount: Int
    }

    /// Checks every layer against the shape of one input example and the class count, and returns the
    /// layers with their output shapes.
    public func resolve(inputShape: [Int], classes: Int) throws -> [ResolvedLayer] {
        guard !layers.isEmpty else {
            throw DendriteError.invalidArgument("the model has no layers; end it with a dense layer of \(classes) units")
        }
        var shape = inputShape
        var resolved: [ResolvedLayer] = []
        for (index, layer) in layers.enumerated() {
            func fail(_ rule: String) -> DendriteError {
                .invalidArgument("model layer \(index) (\(layer.text)): \(rule)")
            }
            var parameters = 0
            switch layer {
            case .dense(let units, _):
                guard units >= 1 && units <= ModelSpec.maxUnits else {
                    throw fail("units must be between 1 and \(ModelSpec.maxUnits), got \(units)")
                }
                let inputs = shape.reduce(1, *)
                parameters = (inputs + 1) * units
                shape = [units]
            case .activation(let activation):
                if case .leakyReLU(let alpha) = activation, !(alpha > 0 && alpha.isFinite) {
                    throw fail("the slope must be a positive number, got \(alpha)")
                }
                if case .elu(let alpha) = activation, !(alpha > 0 && alpha.isFinite) {
                    throw fail("alpha must be a positive number, got \(alpha)")
                }
            case .flatten:
                shape = [shape.reduce(1, *)]
            }
            resolved.append(ResolvedLayer(spec: layer, outputShape: shape, parameterCount: parameters))
        }
        let outputs = shape.reduce(1, *)
        guard outputs == classes else {
            throw DendriteError.invalidArgument("model layer \(layers.count - 1) (\(layers.last!.text)): the model "
                + "outputs \(outputs) values per example but the data has \(classes) classes; end it with dense \(classes)")
        }
        guard resolved.contains(where: { $0.parameterCount > 0 }) else {
            throw DendriteError.invalidArgument("the model has no parameters to train; add a dense layer")
        }
        return resolved
    }
}

extension ModelSpec {
    /// The name and shape of every parameter the model will have, in order.
    public func parameterShapes(inputShape: [Int], classes: Int) throws -> [(name: String, shape: [Int])] {
        var inputs = inputShape.reduce(1, *)
        var shapes: [(name: String, shape: [Int])] = []
        for (index, layer) in try resolve(inputShape: inputShape, classes: classes).enumerated() {
            if case .dense(let units, _) = layer.spec {
                shapes.append(("layers.\(index).weight", [inputs, units]))
                shapes.append(("layers.\(index).bias", [units]))
            }
            inputs = layer.outputShape.reduce(1, *)
        }
        return shapes
    }
}
