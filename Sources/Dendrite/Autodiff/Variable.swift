/// A node of the autodiff graph: a value, and the gradient of the loss with respect to it.
///
/// Parameters live as long as their layer. Intermediate results belong to a ``Tape``, which reuses
/// their buffers step after step: such a value stays valid until the tape's next `reset()`.
public final class Variable: @unchecked Sendable {
    public internal(set) var value: Tensor
    /// The gradient, allocated at its first use and reused after that. Meaningful while `hasGradient`.
    public internal(set) var grad: Tensor?
    /// Whether gradients flow to this variable (parameters, and anything computed from one).
    public internal(set) var requiresGrad: Bool
    /// True once this step's backward pass has written `grad`; later contributions add to it.
    public internal(set) var hasGradient = false
    public var name: String

    /// Recorded ops of the current step that read this value (reset with the tape).
    var readers = 0

    public init(_ value: Tensor, requiresGrad: Bool = false, name: String = "") {
        self.value = value
        self.requiresGrad = requiresGrad
        self.name = name
    }

    /// Forgets the gradient (keeps its buffer): the next backward pass overwrites instead of adding.
    public func zeroGradient() {
        hasGradient = false
    }

    /// The gradient buffer, shaped like the value.
    func gradientBuffer() -> UnsafeMutablePointer<Float> {
        if grad == nil { grad = Tensor(zeros: value.shape) } else { grad!.reuse(as: value.shape) }
        return grad!.mutablePointer
    }
}
