/// Adam in PyTorch's form (bias-corrected moments, ε added after the square root):
/// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε).
/// Keras's form puts ε inside the bias correction ("ε-hat"); the two differ slightly for tiny gradients.
/// The parameters are gathered into a ``ParameterArena`` and the moments into arenas laid out alike, so
/// one kernel call updates the whole model.
public final class Adam: Optimizer {
    public let arena: ParameterArena
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public var step = 0
    private let m: Arena
    private let v: Arena

    public init(parameters: [Variable], learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8) {
        precondition(learningRate > 0, "Adam: learning rate must be > 0, got \(learningRate)")
        arena = ParameterArena(gathering: parameters)
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = Arena(count: arena.count)
        v = Arena(count: arena.count)
    }

    public func update(on backend: Backend, profiler: Profiler?) {
        step += 1
        sweep { offset, count, param, grad in adam(backend, profiler, offset: offset, count: count, param: param, grad: grad) }
    }

    private func adam(_ backend: Backend, _ profiler: Profiler?, offset: Int, count: Int,
                      param: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>) {
        let (mi, vi) = (m.pointer + offset, v.pointer + offset)
        profiled(profiler, "adam.step", .optimizer, m: count, bytes: 28 * Double(count)) {
            backend.optimizers.adamStep(param: param, m: mi, v: vi, grad: grad, count: count, lr: learningRate,
                                        beta1: beta1, beta2: beta2, eps: epsilon, step: step)
        }
    }

    public var state: [(name: String, tensor: Tensor)] {
        parameters.indices.flatMap { i in
            [("adam.m.\(parameters[i].name)", arena.window(of: m, index: i)),
             ("adam.v.\(parameters[i].name)", arena.window(of: v, index: i))]
        }
    }

    public var stateArenas: [Arena] { [m, v] }

    public func restore(state saved: [String: Tensor]) throws {
        try restore(m, prefix: "adam.m", from: saved)
        try restore(v, prefix: "adam.v", from: saved)
    }
}
