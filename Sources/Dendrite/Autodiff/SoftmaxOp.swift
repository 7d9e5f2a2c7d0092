// softmax and log-softmax over each row of an (N, C) matrix (max-subtracted, so no overflow).
// Backward from the output alone: softmax dx = y·(dy − Σ dy·y); log-softmax dx = dy − exp(y)·Σ dy.
// For training a classifier use softmaxCrossEntropy (one fused pass); these give probabilities.

extension Tape {
    /// Row-wise softmax: each row of the result is a probability distribution.
    public func softmax(_ x: Variable) -> Variable { softmax(x, log: false) }

    /// Row-wise log-softmax (log-sum-exp, never log(softmax)).
    public func logSoftmax(_ x: Variable) -> Variable { softmax(x, log: true) }

    private func softmax(_ x: Variable, log: Bool) -> Variable {
        let rows = x.value.shape.rows, cols = x.value.shape.cols
        let out = output(Shape(rows, cols), requiresGrad: tracksGradient(x))
        let y = out.value.mutablePointer
        let losses = backend.losses
        profiled(profiler, log ? "log_softmax.forward" : "softmax.forward", .forward, m: rows, n: cols,
                 bytes: 8 * Double(rows * cols)) {
            if log {
                losses.logSoftmaxForward(out: y, input: x.value.pointer, rows: rows, cols: cols)
            } else {
                losses.softmaxForward(out: y, input: x.value.pointer, rows: rows, cols: cols)
            }
        }
        if out.requiresGrad {
            let op = makeOp(SoftmaxOp.self)
            (op.x, op.out, op.isLog) = (x, out, log)
            record(op)
        }
        return out
    }
}

final class SoftmaxOp: TapeOp {
    var x: Variable!, out: Variable!
    var isLog = false

    var output: Variable { out }
    var diagnosticName: String { isLog ? "log_softmax.forward" : "softmax.forward" }
    func forEachInput(_ body: (Variable) -> Void) { body(x) }

    func backward(on tape: Tape) {
        guard out.hasGradient, x.requiresGrad else { return }
        let rows = out.value.shape.rows, cols = out.value.shape.cols
        let dy = UnsafePointer(out.grad!.mutablePointer), y = out.value.pointer
        let losses = tape.backend.losses
        tape.contributeGradient(to: x) { dx in
            profiled(tape.profiler, isLog ? "log_softmax.backward" : "softmax.backward", .backward, m: rows, n: cols,
                     bytes: 12 * Double(rows * cols)) {
                if isLog {
                    losses.logSoftmaxBackward(dinput: dx, doutput: dy, output: y, rows: rows, cols: cols)
                } else {
                    losses.softmaxBackward(dinput: dx, doutput: dy, output: y, rows: rows, cols: cols)
                }
            }
        }
    }
}
