/// A 2-D convolution over NHWC images: y = f(conv(x, W) + b), W (kh, kw, in, out) and b (out) as in
/// Keras. Product, bias and activation are one op (``Tape/conv2d(_:_:_:stride:padding:_:)``); without
/// a bias the op adds a constant zero vector, which is no parameter.
public final class Conv2D: Layer {
    public let weight: Variable
    public let bias: Variable
    public let useBias: Bool
    public let stride: (Int, Int)
    public let padding: Padding
    public let activation: Activation

    public init(inputChannels: Int, filters: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding = .valid, useBias: Bool = true, activation: Activation = .identity,
                initializer: Initializer = .glorotUniform, generator: inout SeededGenerator) {
        precondition(inputChannels > 0 && filters > 0 && kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0,
                     "Conv2D needs positive sizes, got \(inputChannels) → \(filters), kernel \(kernel), stride \(stride)")
        let fanIn = kernel.0 * kernel.1 * inputChannels, fanOut = kernel.0 * kernel.1 * filters
        weight = Variable(initializer.weights(shape: Shape(kernel.0, kernel.1, inputChannels, filters), fanIn: fanIn,
                                              fanOut: fanOut, using: &generator), requiresGrad: true, name: "weight")
        bias = Variable(Tensor(zeros: Shape([filters])), requiresGrad: useBias, name: "bias")
        self.useBias = useBias
        self.stride = stride
        self.padding = padding
        self.activation = activation
    }

    public var parameters: [Variable] { useBias ? [weight, bias] : [weight] }

    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable {
        callAsFunction(input, on: tape, activation: activation)
    }

    /// The layer followed by `activation` (``Sequential`` uses this to fuse a following activation layer).
    func callAsFunction(_ input: Variable, on tape: Tape, activation: Activation) -> Variable {
        tape.conv2d(input, weight, bias, stride: stride, padding: padding, activation)
    }
}
