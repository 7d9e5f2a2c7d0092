// Finding where a computation went wrong, to name the op in an error message.

extension Tape {
    /// The name of the first recorded op whose output holds a NaN or an infinity, if any.
    func firstNonFiniteOutput() -> String? {
        recordedOutputs.first { !backend.sum($0.out.value.pointer, count: $0.out.value.count).isFinite }?.name
    }

    /// The recorded op whose output has the largest root mean square (where a finite divergence shows most).
    func largestOutput() -> String {
        let rms = recordedOutputs.map { op in
            (op.name, (backend.sumOfSquares(op.out.value.pointer, count: op.out.value.count) / Double(Swift.max(op.out.value.count, 1))).squareRoot())
        }
        guard let largest = rms.max(by: { $0.1 < $1.1 }) else { return "no op" }
        return "\(largest.0) (root mean square \(Float(largest.1)))"
    }

    private var recordedOutputs: [(name: String, out: Variable)] {
        records.map { record in
            switch record {
            case .matmul(_, let b, let out): ("matmul.forward (\(b.name))", out)
            case .dense(_, let weight, _, let out, let activation): ("dense \(activation).forward (\(weight.name))", out)
            case .biasAdd(_, let bias, let out): ("bias_add.forward (\(bias.name))", out)
            case .activation(_, let out, let activation): ("\(activation).forward", out)
            case .biasActivation(_, let bias, let out, let activation): ("bias_\(activation).forward (\(bias.name))", out)
            case .reshape(_, let out): ("reshape", out)
            case .softmaxCrossEntropy(_, let out, _): ("softmax_ce.forward", out)
            }
        }
    }
}
