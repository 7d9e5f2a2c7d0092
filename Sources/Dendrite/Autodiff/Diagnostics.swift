// Finding where a computation went wrong, to name the op in an error message.

extension Tape {
    /// The name of the first recorded op whose output holds a NaN or an infinity, if any.
    func firstNonFiniteOutput() -> String? {
        records.first { !backend.elementwise.sum($0.output.value.pointer, count: $0.output.value.count).isFinite }?
            .diagnosticName
    }

    /// The recorded op whose output has the largest root mean square (where a finite divergence shows most).
    func largestOutput() -> String {
        let rms = records.map { op in
            let out = op.output.value
            return (op.diagnosticName,
                    (backend.elementwise.sumOfSquares(out.pointer, count: out.count) / Double(Swift.max(out.count, 1))).squareRoot())
        }
        guard let largest = rms.max(by: { $0.1 < $1.1 }) else { return "no op" }
        return "\(largest.0) (root mean square \(Float(largest.1)))"
    }
}
