// dense: out = f(x·weight + bias) as one backend call, with no buffer for the product.
// Backward: dz = dout·f'(out) (from the output alone; dout itself for the identity), then
// dbias = Σ_rows dz and the matmul rule on dz. When x was computed by another dense op with an
// activation g and this op is its only reader, that op's dz = (dz·weightᵀ)·g'(x) is formed here in
// one backend call and handed to it: ReLU's backward then costs no pass of its own. That gradient is
// the tape's business only: it goes to the producing op, never into x's `grad`.

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
            backend.gemm.denseForward(out: y, x: x.value.pointer, weight: weight.value.pointer, bias: bias.value.pointer,
                                      m: m, n: n, k: k, activation: activation, epilogue: backend.elementwise)
        }
        if out.requiresGrad {
            let op = makeOp(DenseOp.self)
            (op.x, op.weight, op.bias, op.out, op.activation) = (x, weight, bias, out, activation)
            op.gradientBeforeActivation = nil
            record(op)
        }
        return out
    }
}

final class DenseOp: TapeOp {
    var x: Variable!, weight: Variable!, bias: Variable!, out: Variable!
    var activation = Activation.identity
    /// dL/d(x·weight + bias), when the next dense op already computed it (see the file's header).
    var gradientBeforeActivation: UnsafePointer<Float>?

    var output: Variable { out }
    var diagnosticName: String { "dense \(activation).forward (\(weight.name))" }
    func forEachInput(_ body: (Variable) -> Void) { body(x); body(weight); body(bias) }

    func backward(on tape: Tape) {
        let dz: UnsafePointer<Float>
        if let given = gradientBeforeActivation {
            dz = given
        } else if !out.hasGradient {
            return
        } else if activation == .identity {
            dz = UnsafePointer(out.grad!.mutablePointer)
        } else {
            let scratch = tape.output(out.value.shape, requiresGrad: false).value.mutablePointer
            tape.activationDerivative(out: out, activation, into: scratch)
            dz = UnsafePointer(scratch)
        }
        if bias.requiresGrad { tape.accumulateBiasGradient(bias, dout: dz, shape: out.value.shape) }
        tape.backwardMatmulB(a: x, b: weight, dout: dz)
        if let producer = fusableProducer(on: tape) {
            let m = x.value.shape.rows, k = x.value.shape.cols, n = weight.value.shape.cols
            let previous = producer.activation
            let dzPrevious = tape.output(x.value.shape, requiresGrad: false).value.mutablePointer
            let backend = tape.backend
            profiled(tape.profiler, previous.names.denseBackwardInputs, .backward, m: m, n: k, k: n,
                     flops: 2 * Double(m * n * k)) {
                backend.gemm.denseBackwardInputs(dinput: dzPrevious, dout: dz, weight: weight.value.pointer,
                                                 output: x.value.pointer, m: m, n: n, k: k, activation: previous,
                                                 epilogue: backend.elementwise)
            }
            producer.gradientBeforeActivation = UnsafePointer(dzPrevious)
        } else {
            tape.backwardMatmulA(a: x, b: weight, dout: dz)
        }
    }

    /// The dense op that computed x with an activation, when this op is x's only reader: its
    /// gradient can be carried through the activation in this op's input-gradient product.
    private func fusableProducer(on tape: Tape) -> DenseOp? {
        guard x.requiresGrad, !x.hasGradient, x.readers == 1,
              let producer = tape.recordedOp(producing: x) as? DenseOp, producer.activation != .identity
        else { return nil }
        return producer
    }
}
