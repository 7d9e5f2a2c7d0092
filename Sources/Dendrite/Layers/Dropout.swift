/// Dropout with inverted scaling (Keras's `Dropout`): in training each value is zeroed with
/// probability `rate` and the others are scaled by 1/(1 - rate); in evaluation it passes its input through.
public final class Dropout: Layer {
    public let rate: Float

    public init(rate: Float) {
        precondition(rate >= 0 && rate < 1, "Dropout: the rate must be in [0, 1), got \(rate)")
        self.rate = rate
    }

    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable { tape.dropout(input, rate: rate) }
}
