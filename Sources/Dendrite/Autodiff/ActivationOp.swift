// activation: out = f(x) elementwise, and the fused form out = f(x + bias).
// Backward needs only the output: dx = dout · f'(x), with f'(x) computed from f(x).

extension Tape {
    public func activation(_ x: Variable, _ activation: Activation) -> Variable {
        let out = output(x.value.shape, requiresGrad: tracksGradient(x))
        let y = out.value.mutablePointer
        let count = x.value.count
        profiled(profiler, activation.names.forward, .forward, m: x.value.shape.rows, n: x.value.shape.cols,
                 bytes: 8 * Double(count)) {
            backend.activationForward(out: y, input: x.value.pointer, count: count, activation: activation)
        }
        if out.requiresGrad { record(.activation(x: x, out: out, activation)) }
        return out
    }

    /// `activation(biasAdd(x, bias))` in one pass over memory.
    public func biasActivation(_ x: Variable, _ bias: Variable, _ activation: Activation) -> Variable {
        let rows = x.value.shape.rows, cols = x.value.shape.cols
        precondition(bias.value.count == cols,
                     "biasActivation: bias must have \(cols) elements for input \(x.value.shape), got \(bias.value.shape)")
        let out = output(x.value.shape, requiresGrad: tracksGradient(x, bias))
        let y = out.value.mutablePointer
        profiled(profiler, activation.names.biasForward, .forward, m: rows, n: cols, bytes: 8 * Double(rows * cols)) {
            backend.biasActivationForward(out: y, input: x.value.pointer, bias: bias.value.pointer,
                                          rows: rows, cols: cols, activation: activation)
        }
        if out.requiresGrad { record(.biasActivation(x: x, bias: bias, out: out, activation)) }
        return out
    }

    func backwardActivation(x: Variable, out: Variable, _ activation: Activation) {
        guard x.requiresGrad else { return }
        contributeGradient(to: x) { dx in activationDerivative(out: out, activation, into: dx) }
    }

    func backwardBiasActivation(x: Variable, bias: Variable, out: Variable, _ activation: Activation) {
        // dz = dout · f'(z) is both dx and the source of dbias: compute it once, into dx when possible.
        let dz: UnsafeMutablePointer<Float>
        if x.requiresGrad && !x.hasGradient {
            dz = x.gradientBuffer()
            activationDerivative(out: out, activation, into: dz)
            x.hasGradient = true
        } else {
            dz = output(out.value.shape, requiresGrad: false).value.mutablePointer
            activationDerivative(out: out, activation, into: dz)
            if x.requiresGrad { backend.addInPlace(x.grad!.mutablePointer, dz, count: out.value.count) }
        }
        if bias.requiresGrad { accumulateBiasGradient(bias, dout: dz, shape: out.value.shape) }
    }

    func activationDerivative(out: Variable, _ activation: Activation, into dx: UnsafeMutablePointer<Float>) {
        let count = out.value.count
        let dout = UnsafePointer(out.grad!.mutablePointer)
        profiled(profiler, activation.names.backward, .backward, m: out.value.shape.rows, n: out.value.shape.cols,
                 bytes: 12 * Double(count)) {
            backend.activationBackward(dinput: dx, doutput: dout, output: out.value.pointer, count: count,
                                       activation: activation)
        }
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
