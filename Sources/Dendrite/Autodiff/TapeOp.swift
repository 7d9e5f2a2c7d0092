/// A differentiable operation as the tape records it: what its backward rule needs, the inputs it
/// reads, and the rule. Each op lives in one file (`*Op.swift`) together with the `Tape` method that
/// runs its forward pass and records it; adding an op edits nothing else.
///
/// Ops are classes the tape recycles step after step (``Tape/makeOp(_:)``), so recording one never
/// allocates once the loop is warm: the forward method fills the fields, ``Tape/record(_:)`` keeps it.
protocol TapeOp: AnyObject {
    /// A blank op; its forward method fills it in before recording it.
    init()
    /// The value this op computed; its gradient is what flows into ``backward(on:)``.
    var output: Variable { get }
    /// What error messages call the op ("dense relu.forward (layers.0.weight)").
    var diagnosticName: String { get }
    /// Calls `body` on each variable the op reads, once per operand (x·x reads x twice).
    func forEachInput(_ body: (Variable) -> Void)
    /// Adds this op's share of the gradient to its inputs' gradients. Called last op first, also when
    /// the output got no gradient this step (the op then returns at once).
    func backward(on tape: Tape)
}
