// The reverse walk: seed dL/dL = 1, then run each op's backward rule, last op first.

extension Tape {
    /// Accumulates d`loss`/d(every variable that requires a gradient) into their `grad`s.
    public func backward(from loss: Variable) {
        precondition(loss.value.count == 1, "backward: the loss must be a scalar, got \(loss.value.shape)")
        precondition(isRecording, "backward: the tape was not recording (isRecording is false)")
        loss.gradientBuffer()[0] = 1
        loss.hasGradient = true
        for op in records.reversed() {
            op.backward(on: self)
            afterEachBackwardOp?()
        }
    }
}
