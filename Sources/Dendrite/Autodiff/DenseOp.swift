// dense: out = f(x·weight + bias) as one backend call, with no buffer for the product.
// Backward: dz = dout·f'(out) (from the output alone; dout itself for the identity), then
// dbias = Σ_rows dz and the matmul rule on dz. When x was computed by another dense op with an
// activation g and this op is its only reader, dx is formed as (dz·weightᵀ)·g'(x) in one backend
// call, and that op's backward takes it as its own dz: ReLU's backward then costs no pass of its own.

extension Tape {
    /// A dense layer's forward: `activation(biasAdd(matmul(x, weight), bias))` in one op.
    public func dense(_ x: Variable, _ weight: Variable, _ bias: Variable, _ activation: Activation) -> Variable {
        let m = x.value.shape.rows, k = x.value.shape.cols, n = weight.value.shape.cols
        precondition(weight.value.shape.rows == k,
                     "dense: inner dimensions differ: x is \(x.value.shape), weight is \(weight.value.shape)")
        precondition(bias.value.count == n,
                     "dense: bias must have \(n) elements for weight \(weight.value.shape), got \(bias.value.shape)")
        let out = output(Shape(m, n), requiresGrad: tracksGradient(x, weight) || tracksGradient(bias))
        let y = out.value.mutablePointer
        profiled(profiler, activation.names.denseForward, .forward, m: m, n: n, k: k, flops: 2 * Double(m * n * k)) {
            backend.denseForward(out: y, x: x.value.pointer, weight: weight.value.pointer, bias: bias.value.pointer,
                                 m: m, n: n, k: k, activation: activation)
        }
        out.producingActivation = activation
        if out.requiresGrad { record(.dense(x: x, weight: weight, bias: bias, out: out, activation)) }
        return out
    }

    func backwardDense(x: Variable, weight: Variable, bias: Variable, out: Variable, _ activation: Activation) {
        let dz: UnsafePointer<Float>
        if activation == .identity || out.gradientIsBeforeActivation {
            dz = UnsafePointer(out.grad!.mutablePointer)
        } else {
            let scratch = output(out.value.shape, requiresGrad: false).value.mutablePointer
            activationDerivative(out: out, activation, into: scratch)
            dz = UnsafePointer(scratch)
        }
        if bias.requiresGrad { accumulateBiasGradient(bias, dout: dz, shape: out.value.shape) }
        backwardMatmulB(a: x, b: weight, dout: dz)
        if let previous = x.producingActivation, previous != .identity, x.requiresGrad, !x.hasGradient,
           x.readers == 1 {
            let m = x.value.shape.rows, k = x.value.shape.cols, n = weight.value.shape.cols
            let dx = x.gradientBuffer()
            profiled(profiler, previous.names.denseBackwardInputs, .backward, m: m, n: k, k: n,
                     flops: 2 * Double(m * n * k)) {
                backend.denseBackwardInputs(dinput: dx, dout: dz, weight: weight.value.pointer, output: x.value.pointer,
                                            m: m, n: n, k: k, activation: previous)
            }
            x.hasGradient = true
            x.gradientIsBeforeActivation = true
        } else {
            backwardMatmulA(a: x, b: weight, dout: dz)
        }
    }
}
