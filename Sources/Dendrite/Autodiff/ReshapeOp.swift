// reshape / flatten: the same values under a new shape, sharing storage. Backward: the gradient, reshaped.

extension Tape {
    public func reshape(_ x: Variable, to shape: Shape) -> Variable {
        precondition(shape.count == x.value.count,
                     "reshape: cannot view \(x.value.shape) (\(x.value.count) elements) as \(shape)")
        let out = nextSlot(requiresGrad: tracksGradient(x))
        out.value = x.value.reshaped(to: shape)
        views.append(out)
        if out.requiresGrad {
            let op = makeOp(ReshapeOp.self)
            (op.x, op.out) = (x, out)
            record(op)
        }
        return out
    }

    /// Keeps the first dimension (the batch) and merges the others: [N, 28, 28, 1] → [N, 784].
    public func flatten(_ x: Variable) -> Variable {
        reshape(x, to: Shape(x.value.shape.rows, x.value.shape.cols))
    }
}

final class ReshapeOp: TapeOp {
    var x: Variable!, out: Variable!

    var output: Variable { out }
    var diagnosticName: String { "reshape" }
    func forEachInput(_ body: (Variable) -> Void) { body(x) }

    func backward(on tape: Tape) {
        guard out.hasGradient, x.requiresGrad else { return }
        let dout = UnsafePointer(out.grad!.mutablePointer)
        let count = x.value.count
        tape.contributeGradient(to: x) { dx in dx.update(from: dout, count: count) }
    }
}
