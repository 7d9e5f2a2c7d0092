// batch norm: out = (x − μ)/√(σ² + ε)·γ + β over the last dimension of x ((N, features) after a dense
// layer, (N, H, W, C) after a convolution: C channels, N·H·W rows). In training (the tape recording)
// μ and σ² are the batch's (biased variance) and the moving averages move towards them,
// m ← momentum·m + (1 − momentum)·batch value (Keras's rule); in evaluation the moving averages are used.
// Backward (batch statistics): dγ = Σ dout·x̂, dβ = Σ dout, dx = γ/√(σ² + ε)·(dout − dβ/n − x̂·dγ/n).

extension Tape {
    /// Batch normalization of `x` over its last dimension, with scale `gamma` and shift `beta`.
    public func batchNorm(_ x: Variable, gamma: Variable, beta: Variable, movingMean: Variable, movingVariance: Variable,
                          momentum: Float, epsilon: Float) -> Variable {
        let shape = x.value.shape, channels = shape[shape.rank - 1], rows = x.value.count / max(channels, 1)
        precondition(shape.rank >= 2 && gamma.value.count == channels && beta.value.count == channels
                     && movingMean.value.count == channels && movingVariance.value.count == channels,
                     "batchNorm: gamma, beta and the moving statistics need \(channels) elements for x \(shape)")
        // Rows: mean, variance, 1/√(variance + ε).
        let statistics = output(Shape(3, channels), requiresGrad: false).value.mutablePointer
        let mean = statistics, variance = statistics + channels, invstd = statistics + 2 * channels
        if isRecording {
            profiled(profiler, "batchnorm.statistics", .forward, m: rows, n: channels, bytes: 8 * Double(x.value.count)) {
                backend.regularization.batchNormStatistics(mean: mean, variance: variance, input: x.value.pointer,
                                                           rows: rows, channels: channels)
            }
            let moving = (movingMean.value.mutablePointer, movingVariance.value.mutablePointer)
            for c in 0..<channels {
                moving.0[c] = momentum * moving.0[c] + (1 - momentum) * mean[c]
                moving.1[c] = momentum * moving.1[c] + (1 - momentum) * variance[c]
            }
        } else {
            mean.update(from: movingMean.value.pointer, count: channels)
            variance.update(from: movingVariance.value.pointer, count: channels)
        }
        for c in 0..<channels { invstd[c] = 1 / (variance[c] + epsilon).squareRoot() }
        let out = output(shape, requiresGrad: tracksGradient(x) || tracksGradient(gamma, beta))
        let y = out.value.mutablePointer
        profiled(profiler, "batchnorm.forward", .forward, m: rows, n: channels, bytes: 8 * Double(x.value.count)) {
            backend.regularization.batchNormForward(out: y, input: x.value.pointer, mean: mean, invstd: invstd,
                                                    gamma: gamma.value.pointer, beta: beta.value.pointer,
                                                    rows: rows, channels: channels)
        }
        if out.requiresGrad {
            let op = makeOp(BatchNormOp.self)
            (op.x, op.gamma, op.beta, op.out, op.statistics) = (x, gamma, beta, out, UnsafePointer(statistics))
            record(op)
        }
        return out
    }
}

final class BatchNormOp: TapeOp {
    var x: Variable!, gamma: Variable!, beta: Variable!, out: Variable!
    /// Mean, variance and 1/√(variance + ε) per channel, in a tape buffer.
    var statistics: UnsafePointer<Float>?

    var output: Variable { out }
    var diagnosticName: String { "batchnorm.forward (\(gamma.name))" }
    func forEachInput(_ body: (Variable) -> Void) { body(x); body(gamma); body(beta) }

    func backward(on tape: Tape) {
        guard out.hasGradient, let statistics else { return }
        let channels = gamma.value.count, rows = x.value.count / channels
        let sums = tape.output(Shape(2, channels), requiresGrad: false).value.mutablePointer
        let dout = UnsafePointer(out.grad!.mutablePointer), backend = tape.backend
        let input = x.value.pointer, g = gamma.value.pointer, bytes = 16 * Double(x.value.count)
        let run = { (dx: UnsafeMutablePointer<Float>) in
            profiled(tape.profiler, "batchnorm.backward", .backward, m: rows, n: channels, bytes: bytes) {
                backend.regularization.batchNormBackward(dinput: dx, dgamma: sums, dbeta: sums + channels, dout: dout,
                                                         input: input, mean: statistics, invstd: statistics + 2 * channels,
                                                         gamma: g, rows: rows, channels: channels)
            }
        }
        if x.requiresGrad {
            tape.contributeGradient(to: x, run)
        } else {
            run(tape.output(x.value.shape, requiresGrad: false).value.mutablePointer)
        }
        if gamma.requiresGrad { tape.contributeGradient(to: gamma) { $0.update(from: sums, count: channels) } }
        if beta.requiresGrad { tape.contributeGradient(to: beta) { $0.update(from: sums + channels, count: channels) } }
    }
}
