/// Making a model from a spec: the layers, with weights drawn from one generator seeded with `seed`,
/// layer after layer (so the same spec and seed give the same weights).
extension ModelSpec {
    /// A ``Sequential`` of the spec's layers, checked against the input shape and class count first.
    public func build(inputShape: [Int], classes: Int, seed: UInt64) throws -> Sequential {
        let resolved = try resolve(inputShape: inputShape, classes: classes)
        var generator = SeededGenerator(seed: seed)
        var input = inputShape
        var layers: [Layer] = []
        for layer in resolved {
            switch layer.spec {
            case .dense(let units, let initializer):
                layers.append(Dense(inputs: input.reduce(1, *), outputs: units, initializer: initializer,
                                    generator: &generator))
            case .activation(let activation):
                layers.append(ActivationLayer(activation))
            case .flatten:
                layers.append(Flatten())
            case .conv(let filters, let kernel, let stride, let padding, let bias, let initializer):
                layers.append(Conv2D(inputChannels: input[2], filters: filters, kernel: kernel.pair, stride: stride.pair,
                                     padding: padding, useBias: bias, initializer: initializer, generator: &generator))
            case .pool(let kind, let size, let stride, let padding):
                layers.append(Pool2D(kind, size: size.pair, stride: stride.pair, padding: padding))
            case .globalAveragePool:
                layers.append(GlobalAveragePool())
            case .dropout(let rate):
                layers.append(Dropout(rate: rate))
            case .batchNorm(let momentum, let epsilon):
                layers.append(BatchNorm(channels: input[input.count - 1], momentum: momentum, epsilon: epsilon))
            }
            input = layer.outputShape
        }
        return Sequential(layers)
    }
}
