/// Making a model from a spec: the layers, with weights drawn from one generator seeded with `seed`,
/// layer after layer (so the same spec and seed give the same weights).
extension ModelSpec {
    /// A ``Sequential`` of the spec's layers, checked against the input shape and class count first.
    public func build(inputShape: [Int], classes: Int, seed: UInt64) throws -> Sequential {
        let resolved = try resolve(inputShape: inputShape, classes: classes)
        var generator = SeededGenerator(seed: seed)
        var inputs = inputShape.reduce(1, *)
        var layers: [Layer] = []
        for layer in resolved {
            switch layer.spec {
            case .dense(let units, let initializer):
                layers.append(Dense(inputs: inputs, outputs: units, initializer: initializer, generator: &generator))
            case .activation(let activation):
                layers.append(ActivationLayer(activation))
            case .flatten:
                layers.append(Flatten())
            }
            inputs = layer.outputShape.reduce(1, *)
        }
        return Sequential(layers)
    }
}
