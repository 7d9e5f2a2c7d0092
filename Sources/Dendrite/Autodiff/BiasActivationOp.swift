// bias + activation: out = f(x + bias) in one pass over memory.
// Backward: dz = dout · f'(out) is both dx and the source of dbias.

extension Tape {
    /// `activation(biasAdd(x, bias))` in one pass over memory.
    public func biasActivation(_ x: Variable, _ bias: Variable, _ activation: Activation) -> Variable {
        let rows = x.value.shape.rows, cols = x.value.shape.cols
        precondition(bias.value.count == cols,
                     "biasActivation: bias must have \(cols) elements for input \(x.value.shape), got \(bias.value.shape)")
        let out = output(x.value.shape, requiresGrad: tracksGradient(x, bias))
        let y = out.value.mutablePointer
        profiled(profiler, activation.names.biasForward, .forward, m: rows, n: cols, bytes: 8 * Double(rows * cols)) {
            backend.elementwise.biasActivationForward(out: y, input: x.value.pointer, bias: bias.value.pointer,
                                                      rows: rows, cols: cols, activation: activation)
        }
        if out.requiresGrad {
            let op = makeOp(BiasActivationOp.self)
            (op.x, op.bias, op.out, op.activation) = (x, bias, out, activation)
            record(op)
        }
        return out
    }
}

final class BiasActivationOp: TapeOp {
    var x: Variable!, bias: Variable!, out: Variable!
    var activation = Activation.identity

    var output: Variable { out }
    var diagnosticName: String { "bias_\(activation).forward (\(bias.name))" }
    func forEachInput(_ body: (Variable) -> Void) { body(x); body(bias) }

    func backward(on tape: Tape) {
        guard out.hasGradient else { return }
        // Computed once, into dx when dx is not yet written this step.
        let dz: UnsafeMutablePointer<Float>
        if x.requiresGrad && !x.hasGradient {
            dz = x.gradientBuffer()
            tape.activationDerivative(out: out, activation, into: dz)
            x.hasGradient = true
        } else {
            dz = tape.output(out.value.shape, requiresGrad: false).value.mutablePointer
            tape.activationDerivative(out: out, activation, into: dz)
            if x.requiresGrad { tape.backend.elementwise.addInPlace(x.grad!.mutablePointer, dz, count: out.value.count) }
        }
        if bias.requiresGrad { tape.accumulateBiasGradient(bias, dout: dz, shape: out.value.shape) }
    }
}
