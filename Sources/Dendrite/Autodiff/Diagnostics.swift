// Finding where a computation first went non-finite, to name the op in an error message.

extension Tape {
    /// The name of the first recorded op whose output holds a NaN or an infinity, if any.
    func firstNonFiniteOutput() -> String? {
        for record in records {
            let (name, out): (String, Variable) = switch record {
            case .matmul(_, let b, let out): ("matmul.forward (\(b.name))", out)
            case .biasAdd(_, let bias, let out): ("bias_add.forward (\(bias.name))", out)
            case .activation(_, let out, let activation): ("\(activation).forward", out)
            case .biasActivation(_, let bias, let out, let activation): ("bias_\(activation).forward (\(bias.name))", out)
            case .reshape(_, let out): ("reshape", out)
            case .softmaxCrossEntropy(_, let out, _): ("softmax_ce.forward", out)
            }
            if !backend.sum(out.value.pointer, count: out.value.count).isFinite { return name }
        }
        return nil
    }
}
