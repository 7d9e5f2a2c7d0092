/// A fully connected layer: y = f(x · W + b), W (inputs, outputs) as in Keras, b (outputs).
/// Product, bias and activation are one op (``Tape/dense(_:_:_:_:)``).
public final class Dense: Layer {
    public let weight: Variable
    public let bias: Variable
    public let activation: Activation

    public init(inputs: Int, outputs: Int, activation: Activation = .identity,
                initializer: Initializer = .randomNormal(), generator: inout SeededGenerator) {
        precondition(inputs > 0 && outputs > 0, "Dense needs positive sizes, got \(inputs) → \(outputs)")
        weight = Variable(initializer.weights(fanIn: inputs, fanOut: outputs, using: &generator),
                          requiresGrad: true, name: "weight")
        bias = Variable(Tensor(zeros: Shape([outputs])), requiresGrad: true, name: "bias")
        self.activation = activation
    }

    public var inputs: Int { weight.value.shape[0] }
    public var outputs: Int { weight.value.shape[1] }
    public var parameters: [Variable] { [weight, bias] }

    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable {
        callAsFunction(input, on: tape, activation: activation)
    }

    /// The layer followed by `activation` (``Sequential`` uses this to fuse a following activation layer).
    func callAsFunction(_ input: Variable, on tape: Tape, activation: Activation) -> Variable {
        precondition(input.value.shape.cols == inputs,
                     "Dense: input must have \(inputs) features, got shape \(input.value.shape)")
        return tape.dense(input, weight, bias, activation)
    }
}
