// The reverse walk: seed dL/dL = 1, then run each record's backward rule, last op first.

extension Tape {
    /// Accumulates d`loss`/d(every variable that requires a gradient) into their `grad`s.
    public func backward(from loss: Variable) {
        precondition(loss.value.count == 1, "backward: the loss must be a scalar, got \(loss.value.shape)")
        precondition(isRecording, "backward: the tape was not recording (isRecording is false)")
        loss.gradientBuffer()[0] = 1
        loss.hasGradient = true
        for record in records.reversed() {
            switch record {
            case .matmul(let a, let b, let out):
                if out.hasGradient { backwardMatmul(a: a, b: b, dout: UnsafePointer(out.grad!.mutablePointer)) }
            case .dense(let x, let weight, let bias, let out, let activation):
                if out.hasGradient { backwardDense(x: x, weight: weight, bias: bias, out: out, activation) }
            case .biasAdd(let x, let bias, let out):
                if out.hasGradient { backwardBiasAdd(x: x, bias: bias, out: out) }
            case .activation(let x, let out, let activation):
                if out.hasGradient { backwardActivation(x: x, out: out, activation) }
            case .biasActivation(let x, let bias, let out, let activation):
                if out.hasGradient { backwardBiasActivation(x: x, bias: bias, out: out, activation) }
            case .reshape(let x, let out):
                if out.hasGradient { backwardReshape(x: x, out: out) }
            case .softmaxCrossEntropy(let logits, let out, let dlogits):
                if out.hasGradient { backwardSoftmaxCrossEntropy(logits: logits, out: out, dlogits: dlogits) }
            }
        }
    }
}
