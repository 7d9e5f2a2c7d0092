/// Stochastic gradient descent in PyTorch's form: with momentum μ > 0, vel ← μ·vel + g, p ← p − lr·vel;
/// with μ = 0, p ← p − lr·g. Like ``Adam``, one kernel call over the parameter arena.
public final class SGD: Optimizer {
    public let arena: ParameterArena
    public var learningRate: Float
    public let momentum: Float
    public var step = 0
    /// Laid out like the parameter arena; only with momentum.
    private let velocity: Arena?

    public init(parameters: [Variable], learningRate: Float = 0.01, momentum: Float = 0) {
        precondition(learningRate > 0, "SGD: learning rate must be > 0, got \(learningRate)")
        precondition(momentum >= 0, "SGD: momentum must be >= 0, got \(momentum)")
        arena = ParameterArena(gathering: parameters)
        self.learningRate = learningRate
        self.momentum = momentum
        velocity = momentum > 0 ? Arena(count: arena.count) : nil
    }

    public func update(on backend: Backend, profiler: Profiler?) {
        step += 1
        sweep { offset, count, param, grad in sgd(backend, profiler, offset: offset, count: count, param: param, grad: grad) }
    }

    private func sgd(_ backend: Backend, _ profiler: Profiler?, offset: Int, count: Int,
                     param: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>) {
        let vel = velocity.map { $0.pointer + offset }
        profiled(profiler, "sgd.step", .optimizer, m: count, bytes: 16 * Double(count)) {
            backend.optimizers.sgdStep(param: param, velocity: vel, grad: grad, count: count, lr: learningRate,
                                       momentum: momentum)
        }
    }

    public var state: [(name: String, tensor: Tensor)] {
        guard let velocity else { return [] }
        return parameters.indices.map { i in ("sgd.velocity.\(parameters[i].name)", arena.window(of: velocity, index: i)) }
    }

    public var stateArenas: [Arena] { velocity.map { [$0] } ?? [] }

    public func restore(state saved: [String: Tensor]) throws {
        if let velocity { try restore(velocity, prefix: "sgd.velocity", from: saved) }
    }
}
