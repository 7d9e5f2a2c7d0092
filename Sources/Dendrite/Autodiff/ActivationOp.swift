// activation: out = f(x) elementwise. Backward needs only the output: dx = dout · f'(x), with f'(x)
// computed from f(x).

extension Tape {
    public func activation(_ x: Variable, _ activation: Activation) -> Variable {
        let out = output(x.value.shape, requiresGrad: tracksGradient(x))
        let y = out.value.mutablePointer
        let count = x.value.count
        profiled(profiler, activation.names.forward, .forward, m: x.value.shape.rows, n: x.value.shape.cols,
                 bytes: 8 * Double(count)) {
            backend.elementwise.activationForward(out: y, input: x.value.pointer, count: count, activation: activation)
        }
        if out.requiresGrad {
            let op = makeOp(ActivationOp.self)
            (op.x, op.out, op.activation) = (x, out, activation)
            record(op)
        }
        return out
    }

    /// dx = dout · f'(x) for out = f(x), into `dx` (the shared backward of the ops that end in an activation).
    func activationDerivative(out: Variable, _ activation: Activation, into dx: UnsafeMutablePointer<Float>) {
        let count = out.value.count
        let dout = UnsafePointer(out.grad!.mutablePointer)
        profiled(profiler, activation.names.backward, .backward, m: out.value.shape.rows, n: out.value.shape.cols,
                 bytes: 12 * Double(count)) {
            backend.elementwise.activationBackward(dinput: dx, doutput: dout, output: out.value.pointer, count: count,
                                                   activation: activation)
        }
    }
}

final class ActivationOp: TapeOp {
    var x: Variable!, out: Variable!
    var activation = Activation.identity

    var output: Variable { out }
    var diagnosticName: String { "\(activation).forward" }
    func forEachInput(_ body: (Variable) -> Void) { body(x) }

    func backward(on tape: Tape) {
        guard out.hasGradient, x.requiresGrad else { return }
        tape.contributeGradient(to: x) { dx in tape.activationDerivative(out: out, activation, into: dx) }
    }
}

extension Activation {
    /// Profiler names: static strings, so recording them never allocates.
    var names: (forward: StaticString, backward: StaticString, biasForward: StaticString, denseForward: StaticString,
                denseBackwardInputs: StaticString) {
        switch self {
        case .identity: ("identity.forward", "identity.backward", "bias_add.forward", "matmul_bias.forward",
                         "matmul.backward.inputs")
        case .relu: ("relu.forward", "relu.backward", "bias_relu.forward", "matmul_bias_relu.forward",
                     "matmul_relu.backward.inputs")
        case .leakyReLU: ("leaky_relu.forward", "leaky_relu.backward", "bias_leaky_relu.forward",
                          "matmul_bias_leaky_relu.forward", "matmul_leaky_relu.backward.inputs")
        case .sigmoid: ("sigmoid.forward", "sigmoid.backward", "bias_sigmoid.forward", "matmul_bias_sigmoid.forward",
                        "matmul_sigmoid.backward.inputs")
        case .tanh: ("tanh.forward", "tanh.backward", "bias_tanh.forward", "matmul_bias_tanh.forward",
                     "matmul_tanh.backward.inputs")
        case .elu: ("elu.forward", "elu.backward", "bias_elu.forward", "matmul_bias_elu.forward",
                    "matmul_elu.backward.inputs")
        case .selu: ("selu.forward", "selu.backward", "bias_selu.forward", "matmul_bias_selu.forward",
                     "matmul_selu.backward.inputs")
        }
    }
}
