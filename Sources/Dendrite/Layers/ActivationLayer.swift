/// An activation as a layer of its own (Keras's `Activation`); after a ``Dense`` in a ``Sequential``
/// it is fused into the dense layer's bias kernel.
public final class ActivationLayer: Layer {
    public let activation: Activation
    public init(_ activation: Activation) { self.activation = activation }

    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable {
        tape.activation(input, activation)
    }
}

/// Merges every dimension after the batch: [N, 28, 28] → [N, 784].
public final class Flatten: Layer {
    public init() {}
    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable { tape.flatten(input) }
}
