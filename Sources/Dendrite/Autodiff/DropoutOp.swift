// dropout: out = x·mask/(1 - rate) while training, x itself in evaluation (the tape not recording).
// The mask is a hash of (key, index) (see dk_dropout): the key comes from the tape's per-step random
// key and the op's position among this step's random ops, so it depends on (seed, step, layer) only
// and a resumed run draws the same masks. Backward: dx = dout·mask/(1 - rate), the same kernel and key.

extension Tape {
    /// Zeroes each element of `x` with probability `rate` and scales the rest by 1/(1 - rate), in training.
    public func dropout(_ x: Variable, rate: Float) -> Variable {
        precondition(rate >= 0 && rate < 1, "dropout: the rate must be in [0, 1), got \(rate)")
        guard isRecording, rate > 0 else { return x }
        let key = nextRandomKey()
        let out = output(x.value.shape, requiresGrad: tracksGradient(x))
        let y = out.value.mutablePointer, count = x.value.count, first = firstRowInBatch * x.value.shape.cols
        profiled(profiler, "dropout.forward", .forward, m: x.value.shape.rows, n: x.value.shape.cols, bytes: 8 * Double(count)) {
            backend.regularization.dropout(out: y, input: x.value.pointer, count: count, rate: rate, key: key, first: first)
        }
        if out.requiresGrad {
            let op = makeOp(DropoutOp.self)
            (op.x, op.out, op.rate, op.key, op.first) = (x, out, rate, key, first)
            record(op)
        }
        return out
    }
}

final class DropoutOp: TapeOp {
    var x: Variable!, out: Variable!
    var rate: Float = 0
    var key: UInt64 = 0
    /// Where the input's elements start in the whole batch's (a data-parallel rank's share).
    var first = 0

    var output: Variable { out }
    var diagnosticName: String { "dropout \(rate).forward" }
    func forEachInput(_ body: (Variable) -> Void) { body(x) }

    func backward(on tape: Tape) {
        guard out.hasGradient, x.requiresGrad else { return }
        let dout = UnsafePointer(out.grad!.mutablePointer)
        let count = out.value.count, backend = tape.backend, rate = rate, key = key, first = first
        tape.contributeGradient(to: x) { dx in
            profiled(tape.profiler, "dropout.backward", .backward, m: out.value.shape.rows, n: out.value.shape.cols,
                     bytes: 8 * Double(count)) {
                backend.regularization.dropout(out: dx, input: dout, count: count, rate: rate, key: key, first: first)
            }
        }
    }
}
