/// Stochastic gradient descent in PyTorch's form: with momentum μ > 0, vel ← μ·vel + g, p ← p − lr·vel;
/// with μ = 0, p ← p − lr·g.
public final class SGD: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let momentum: Float
    public var step = 0
    private var velocity: [Tensor]

    public init(parameters: [Variable], learningRate: Float = 0.01, momentum: Float = 0) {
        precondition(learningRate > 0, "SGD: learning rate must be > 0, got \(learningRate)")
        precondition(momentum >= 0, "SGD: momentum must be >= 0, got \(momentum)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        velocity = momentum > 0 ? parameters.map { Tensor(zeros: $0.value.shape) } : []
    }

    public func update(on backend: Backend, profiler: Profiler?) {
        step += 1
        for i in parameters.indices {
            let parameter = parameters[i]
            guard parameter.hasGradient, let grad = parameter.grad else { continue }
            let count = parameter.value.count
            let p = parameter.value.mutablePointer
            let vel: UnsafeMutablePointer<Float>? = momentum > 0 ? velocity[i].mutablePointer : nil
            profiled(profiler, "sgd.step", .optimizer, m: count, bytes: 16 * Double(count)) {
                backend.sgdStep(param: p, velocity: vel, grad: grad.pointer, count: count,
                                lr: learningRate, momentum: momentum)
            }
            parameter.zeroGradient()
        }
    }

    public var state: [(name: String, tensor: Tensor)] {
        velocity.indices.map { i in ("sgd.velocity.\(parameters[i].name)", velocity[i]) }
    }

    public func restore(state saved: [String: Tensor]) throws {
        if momentum > 0 { try restore(&velocity, prefix: "sgd.velocity", from: saved) }
    }
}
