/// Batch normalization over the last dimension (features after a dense layer, channels after a
/// convolution), as Keras's `BatchNormalization`: batch statistics in training, moving averages in
/// evaluation (momentum 0.99, ε 0.001 by default). γ starts at 1 and β at 0; the moving mean at 0 and
/// the moving variance at 1. The moving statistics are buffers: checkpointed, never trained.
public final class BatchNorm: Layer {
    public let gamma: Variable, beta: Variable
    public let movingMean: Variable, movingVariance: Variable
    public let momentum: Float, epsilon: Float

    public init(channels: Int, momentum: Float = 0.99, epsilon: Float = 0.001) {
        precondition(channels > 0, "BatchNorm needs at least one channel, got \(channels)")
        gamma = Variable(Tensor(shape: Shape([channels]), values: [Float](repeating: 1, count: channels)),
                         requiresGrad: true, name: "gamma")
        beta = Variable(Tensor(zeros: Shape([channels])), requiresGrad: true, name: "beta")
        movingMean = Variable(Tensor(zeros: Shape([channels])), name: "moving_mean")
        movingVariance = Variable(Tensor(shape: Shape([channels]), values: [Float](repeating: 1, count: channels)),
                                  name: "moving_variance")
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public var parameters: [Variable] { [gamma, beta] }
    public var buffers: [Variable] { [movingMean, movingVariance] }

    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable {
        tape.batchNorm(input, gamma: gamma, beta: beta, movingMean: movingMean, movingVariance: movingVariance,
                       momentum: momentum, epsilon: epsilon)
    }
}
