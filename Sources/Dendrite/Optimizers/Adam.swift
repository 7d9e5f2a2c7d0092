/// Adam in PyTorch's form (bias-corrected moments, ε added after the square root):
/// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε).
/// Keras's form puts ε inside the bias correction ("ε-hat"); the two differ slightly for tiny gradients.
public final class Adam: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public var step = 0
    private var m: [Tensor]
    private var v: [Tensor]

    public init(parameters: [Variable], learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8) {
        precondition(learningRate > 0, "Adam: learning rate must be > 0, got \(learningRate)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = parameters.map { Tensor(zeros: $0.value.shape) }
        v = parameters.map { Tensor(zeros: $0.value.shape) }
    }

    public func update(on backend: Backend, profiler: Profiler?) {
        step += 1
        for i in parameters.indices {
            let parameter = parameters[i]
            guard parameter.hasGradient, let grad = parameter.grad else { continue }
            let count = parameter.value.count
            let p = parameter.value.mutablePointer, mi = m[i].mutablePointer, vi = v[i].mutablePointer
            profiled(profiler, "adam.step", .optimizer, m: count, bytes: 28 * Double(count)) {
                backend.adamStep(param: p, m: mi, v: vi, grad: grad.pointer, count: count,
                                 lr: learningRate, beta1: beta1, beta2: beta2, eps: epsilon, step: step)
            }
            parameter.zeroGradient()
        }
    }

    public var state: [(name: String, tensor: Tensor)] {
        parameters.indices.flatMap { i in
            [("adam.m.\(parameters[i].name)", m[i]), ("adam.v.\(parameters[i].name)", v[i])]
        }
    }

    public func restore(state saved: [String: Tensor]) throws {
        try restore(&m, prefix: "adam.m", from: saved)
        try restore(&v, prefix: "adam.v", from: saved)
    }
}
