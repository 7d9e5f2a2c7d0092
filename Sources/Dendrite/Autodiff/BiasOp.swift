// bias add: out (R,C) = x (R,C) + bias (C) per row. Backward: dx = dout, dbias = column sums of dout.

extension Tape {
    public func biasAdd(_ x: Variable, _ bias: Variable) -> Variable {
        let rows = x.value.shape.rows, cols = x.value.shape.cols
        precondition(bias.value.count == cols,
                     "biasAdd: bias must have \(cols) elements for input \(x.value.shape), got \(bias.value.shape)")
        let out = output(x.value.shape, requiresGrad: tracksGradient(x, bias))
        let y = out.value.mutablePointer
        profiled(profiler, "bias_add.forward", .forward, m: rows, n: cols, bytes: 8 * Double(rows * cols)) {
            backend.elementwise.biasAdd(out: y, input: x.value.pointer, bias: bias.value.pointer, rows: rows, cols: cols)
        }
        if out.requiresGrad {
            let op = makeOp(BiasAddOp.self)
            (op.x, op.bias, op.out) = (x, bias, out)
            record(op)
        }
        return out
    }

    func accumulateBiasGradient(_ bias: Variable, dout: UnsafePointer<Float>, shape: Shape) {
        let rows = shape.rows, cols = shape.cols
        let accumulate = bias.hasGradient
        let dbias = bias.gradientBuffer()
        profiled(profiler, "bias_add.backward", .backward, m: rows, n: cols, bytes: 4 * Double(rows * cols)) {
            backend.elementwise.biasBackward(dbias: dbias, dout: dout, rows: rows, cols: cols, accumulate: accumulate)
        }
        bias.hasGradient = true
    }
}

final class BiasAddOp: TapeOp {
    var x: Variable!, bias: Variable!, out: Variable!

    var output: Variable { out }
    var diagnosticName: String { "bias_add.forward (\(bias.name))" }
    func forEachInput(_ body: (Variable) -> Void) { body(x); body(bias) }

    func backward(on tape: Tape) {
        guard out.hasGradient else { return }
        let dout = UnsafePointer(out.grad!.mutablePointer)
        if bias.requiresGrad { tape.accumulateBiasGradient(bias, dout: dout, shape: out.value.shape) }
        if x.requiresGrad {
            let count = out.value.count
            tape.contributeGradient(to: x) { dx in dx.update(from: dout, count: count) }
        }
    }
}
