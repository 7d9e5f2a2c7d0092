/// A building block of a model: a function of its input and its parameters, recorded on a tape.
public protocol Layer: AnyObject {
    /// The layer's output for `input`; ops are recorded on `tape` so gradients can flow back.
    func callAsFunction(_ input: Variable, on tape: Tape) -> Variable
    /// The trainable variables, each with a name that is stable across runs (checkpoint keys).
    var parameters: [Variable] { get }
    /// State that is saved with the model but not trained (batch norm's moving statistics).
    var buffers: [Variable] { get }
}

extension Layer {
    public var parameters: [Variable] { [] }
    public var buffers: [Variable] { [] }
}
