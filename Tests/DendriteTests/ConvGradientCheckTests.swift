import Testing
@testable import Dendrite

/// The convolutional ops' backward rules against central finite differences (see `check`).
extension GradientCheckTests {
    /// Conv2D with stride 2 and same padding, its bias and relu fused, then global average pooling
    /// down to the (5, 3) logits; every input gets its gradient checked.
    @Test(arguments: GradientCheckBackends.names, [Activation.identity, .tanh])
    func conv2d(backend: String, _ activation: Activation) throws {
        let x = randomVariable(Shape(5, 4, 5, 2), seed: 31), w = randomVariable(Shape(3, 3, 2, 3), seed: 32, scale: 0.5)
        let b = randomVariable(Shape([3]), seed: 33, scale: 0.5)
        try check(backend, [x, w, b], "conv2d \(activation)") { tape in
            crossEntropy(tape, tape.globalAveragePool(tape.conv2d(x, w, b, stride: (2, 2), padding: .same, activation)))
        }
        // 16 channels in and out, 3x3, stride 1: the C backend's Winograd kernels (the others compute this layer
        // as they do the one above, and their debug builds would take minutes over its 3,600 inputs).
        if backend == "c" {
            let wide = randomVariable(Shape(5, 4, 4, 16), seed: 37), wideWeight = randomVariable(Shape(3, 3, 16, 16), seed: 38, scale: 0.2)
            let wideBias = randomVariable(Shape([16]), seed: 39, scale: 0.5)
            try check(backend, [wide, wideWeight, wideBias], "conv2d 16→16 \(activation)") { tape in
                crossEntropy(tape, tape.globalAveragePool(tape.conv2d(wide, wideWeight, wideBias, stride: (1, 1), padding: .same, activation)))
            }
        }
        let pointwise = randomVariable(Shape(1, 1, 2, 3), seed: 34)
        try check(backend, [x, pointwise, b], "conv2d 1x1 \(activation)") { tape in
            crossEntropy(tape, tape.globalAveragePool(tape.conv2d(x, pointwise, b, stride: (1, 1), padding: .valid, activation)))
        }
    }

    /// Max and average pooling with overlapping windows and padding. The inputs are distinct values
    /// spaced wider than the finite-difference step, so no window's maximum changes hands.
    @Test(arguments: GradientCheckBackends.names, [PoolKind.max, .average])
    func pool2d(backend: String, _ kind: PoolKind) throws {
        let shape = Shape(5, 4, 4, 3)
        var generator = SeededGenerator(seed: 35)
        let values = (0..<shape.count).map { Float($0) * 0.05 - 4 }.shuffled(using: &generator)
        let x = Variable(Tensor(shape: shape, values: values), requiresGrad: true)
        try check(backend, [x], "\(kind)pool") { tape in
            crossEntropy(tape, tape.globalAveragePool(tape.pool2d(x, kind, size: (3, 3), stride: (2, 2), padding: .same)))
        }
    }

    /// Dropout: every evaluation of the loss starts a step with the same key (the check's tape is never
    /// given a step), so it draws the same mask.
    @Test(arguments: GradientCheckBackends.names)
    func dropout(backend: String) throws {
        let x = randomVariable(Shape(5, 3), seed: 36)
        try check(backend, [x], "dropout") { crossEntropy($0, $0.dropout(x, rate: 0.4)) }
    }

    /// Batch norm with batch statistics, over features and over channels.
    @Test(arguments: GradientCheckBackends.names)
    func batchNorm(backend: String) throws {
        let gamma = randomVariable(Shape([3]), seed: 38, scale: 0.5), beta = randomVariable(Shape([3]), seed: 39)
        let mean = Variable(Tensor(zeros: Shape([3]))), variance = Variable(Tensor(zeros: Shape([3])))
        let features = randomVariable(Shape(5, 3), seed: 40)
        try check(backend, [features, gamma, beta], "batchnorm over features") { tape in
            crossEntropy(tape, tape.activation(tape.batchNorm(features, gamma: gamma, beta: beta, movingMean: mean,
                                                              movingVariance: variance, momentum: 0.9, epsilon: 1e-3), .tanh))
        }
        let images = randomVariable(Shape(5, 2, 3, 3), seed: 41)
        try check(backend, [images, gamma, beta], "batchnorm over channels") { tape in
            crossEntropy(tape, tape.globalAveragePool(tape.activation(
                tape.batchNorm(images, gamma: gamma, beta: beta, movingMean: mean, movingVariance: variance,
                               momentum: 0.9, epsilon: 1e-3), .tanh)))
        }
    }
}
