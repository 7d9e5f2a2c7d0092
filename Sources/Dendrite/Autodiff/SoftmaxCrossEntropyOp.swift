// softmax cross-entropy: loss = mean over rows of −log softmax(logits)[label].
// The forward pass computes the gradient (softmax − onehot)/N too; backward only scales it by dloss.

extension Tape {
    /// The mean cross-entropy of `logits` (N, classes) against integer `labels` (N values in 0..<classes).
    /// Returns a scalar variable; `backward(from:)` it to train. `gradientRows` (default N) is the count the
    /// gradient is averaged over: the whole batch when this process holds only a share of it.
    public func softmaxCrossEntropy(_ logits: Variable, labels: UnsafeBufferPointer<Int32>,
                                    gradientRows: Int? = nil) -> Variable {
        let rows = logits.value.shape.rows, cols = logits.value.shape.cols
        precondition(labels.count == rows,
                     "softmaxCrossEntropy: \(labels.count) labels for logits \(logits.value.shape)")
        for label in labels {
            precondition(label >= 0 && Int(label) < cols,
                         "softmaxCrossEntropy: label \(label) is outside 0..<\(cols) (logits \(logits.value.shape))")
        }
        let out = output(Shape.scalar, requiresGrad: tracksGradient(logits))
        let losses = output(Shape(rows, 1), requiresGrad: false)
        let dlogits = output(out.requiresGrad ? logits.value.shape : Shape(0, 0), requiresGrad: false)
        let gradient: UnsafeMutablePointer<Float>? = out.requiresGrad ? dlogits.value.mutablePointer : nil
        let lossPointer = losses.value.mutablePointer
        let mean = profiled(profiler, "softmax_ce.forward", .forward, m: rows, n: cols,
                            bytes: (out.requiresGrad ? 8 : 4) * Double(rows * cols)) {
            backend.losses.softmaxCrossEntropy(losses: lossPointer, dlogits: gradient, logits: logits.value.pointer,
                                               labels: labels.baseAddress!, rows: rows, cols: cols,
                                               gradScale: 1 / Float(Swift.max(gradientRows ?? rows, 1)))
        }
        out.value.mutablePointer[0] = Float(mean)
        if out.requiresGrad {
            let op = makeOp(SoftmaxCrossEntropyOp.self)
            (op.logits, op.out, op.dlogits) = (logits, out, dlogits)
            record(op)
        }
        return out
    }
}

final class SoftmaxCrossEntropyOp: TapeOp {
    var logits: Variable!, out: Variable!
    /// (softmax − onehot)/N, from the forward pass.
    var dlogits: Variable!

    var output: Variable { out }
    var diagnosticName: String { "softmax_ce.forward" }
    func forEachInput(_ body: (Variable) -> Void) { body(logits) }

    func backward(on tape: Tape) {
        guard out.hasGradient else { return }
        let scale = out.grad![0]
        let count = logits.value.count
        let rows = logits.value.shape.rows, cols = logits.value.shape.cols
        let saved = dlogits.value.pointer
        let elementwise = tape.backend.elementwise
        tape.contributeGradient(to: logits) { dx in
            profiled(tape.profiler, "softmax_ce.backward", .backward, m: rows, n: cols, bytes: 8 * Double(count)) {
                dx.update(from: saved, count: count)
                if scale != 1 { elementwise.scaleInPlace(dx, by: scale, count: count) }
            }
        }
    }
}
