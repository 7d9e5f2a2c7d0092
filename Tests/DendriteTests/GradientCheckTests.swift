import Testing
@testable import Dendrite

/// The backends the gradient checks run on: every one this machine can run.
enum GradientCheckBackends {
    /// C, the portable and the best build of the Swift kernels, OpenBLAS when it loads.
    static let names: [String] = ["c", "swift-portable"] + (SwiftKernelBuild.best == .portable ? [] : ["swift-\(SwiftKernelBuild.best)"])
        + ((try? Backends.named("openblas")) != nil ? ["openblas"] : [])

    static func make(_ name: String) throws -> Backend {
        switch name {
        default:
            if name.hasPrefix("swift-"), let build = SwiftKernelBuild(rawValue: String(name.dropFirst(6))) {
                Backends.swift(build: build)
            } else {
                try Backends.named(name)
            }
        }
    }
}

/// Every differentiable op's backward rule against central finite differences of the loss, on every backend.
@Suite struct GradientCheckTests {
    let labels: [Int32] = [0, 2, 1, 2, 0]

    /// Compares analytic gradients of `variables` with (L(x+h) − L(x−h)) / 2h for every element.
    func check(_ backend: String, _ variables: [Variable], _ name: String, loss: (Tape) -> Variable) throws {
        let tape = Tape(backend: try GradientCheckBackends.make(backend))
        tape.reset()
        for v in variables { v.zeroGradient() }
        tape.backward(from: loss(tape))
        let analytic = variables.map { $0.grad!.scalars }
        let h: Float = 1e-2
        for (index, variable) in variables.enumerated() {
            var worst: (Float, Int, Float, Float) = (0, 0, 0, 0)
            for i in 0..<variable.value.count {
                let original = variable.value[i]
                variable.value[i] = original + h
                tape.reset()
                let plus = Double(loss(tape).value.scalar)
                variable.value[i] = original - h
                tape.reset()
                let minus = Double(loss(tape).value.scalar)
                variable.value[i] = original
                let numeric = Float((plus - minus) / Double(2 * h))
                let error = abs(numeric - analytic[index][i]) / (2e-3 + 2e-2 * abs(numeric))
                if error > worst.0 { worst = (error, i, numeric, analytic[index][i]) }
            }
            #expect(worst.0 <= 1,
                    "\(name) [\(backend)]: input \(index) element \(worst.1): numeric \(worst.2), analytic \(worst.3)")
        }
    }

    func crossEntropy(_ tape: Tape, _ logits: Variable) -> Variable {
        labels.withUnsafeBufferPointer { tape.softmaxCrossEntropy(logits, labels: $0) }
    }

    @Test(arguments: GradientCheckBackends.names)
    func matmul(backend: String) throws {
        let x = randomVariable(Shape(5, 4), seed: 1), w = randomVariable(Shape(4, 3), seed: 2)
        try check(backend, [x, w], "matmul") { crossEntropy($0, $0.matmul(x, w)) }
    }

    @Test(arguments: GradientCheckBackends.names)
    func biasAdd(backend: String) throws {
        let x = randomVariable(Shape(5, 3), seed: 3), b = randomVariable(Shape([3]), seed: 4)
        try check(backend, [x, b], "biasAdd") { crossEntropy($0, $0.biasAdd(x, b)) }
    }

    @Test(arguments: GradientCheckBackends.names,
          [Activation.relu, .leakyReLU(), .leakyReLU(alpha: 0.2), .sigmoid, .tanh, .elu(), .selu, .identity])
    func activation(backend: String, _ activation: Activation) throws {
        let x = randomVariable(Shape(5, 3), seed: 5)
        try check(backend, [x], "\(activation)") { crossEntropy($0, $0.activation(x, activation)) }
        let b = randomVariable(Shape([3]), seed: 6, scale: 0.5)
        try check(backend, [x, b], "bias+\(activation)") { crossEntropy($0, $0.biasActivation(x, b, activation)) }
    }

    @Test(arguments: GradientCheckBackends.names)
    func reshape(backend: String) throws {
        let x = randomVariable(Shape([5, 1, 3]), seed: 7)
        try check(backend, [x], "flatten") { crossEntropy($0, $0.flatten(x)) }
    }

    @Test(arguments: GradientCheckBackends.names)
    func softmaxCrossEntropy(backend: String) throws {
        let logits = randomVariable(Shape(5, 3), seed: 8, scale: 3)
        try check(backend, [logits], "softmaxCrossEntropy") { crossEntropy($0, logits) }
    }

    /// A whole MLP: flatten, dense+tanh, dense+relu (fused), dense; gradients of every parameter.
    @Test(arguments: GradientCheckBackends.names)
    func smallMLP(backend: String) throws {
        var generator = SeededGenerator(seed: 9)
        let model = Sequential(Flatten(), Dense(inputs: 6, outputs: 4, activation: .tanh, initializer: .glorotUniform, generator: &generator),
                               Dense(inputs: 4, outputs: 4, initializer: .heNormal, generator: &generator), ActivationLayer(.relu),
                               Dense(inputs: 4, outputs: 3, initializer: .glorotUniform, generator: &generator))
        for parameter in model.parameters where parameter.name.hasSuffix("bias") {
            let p = parameter.value.count
            for i in 0..<p { parameter.value[i] = 0.1 * Float(i + 1) }  // non-zero biases test their gradients better
        }
        let x = randomVariable(Shape([5, 2, 3]), seed: 10, requiresGrad: false)
        try check(backend, model.parameters, "MLP") { crossEntropy($0, model(x, on: $0)) }
    }

    /// Two dense ops in a row: the second forms the first's pre-activation gradient itself (its
    /// product times the first activation's derivative, in one backend call).
    @Test(arguments: GradientCheckBackends.names,
          [Activation.relu, .leakyReLU(alpha: 0.2), .sigmoid, .tanh, .elu(), .selu, .identity])
    func denseAfterDense(backend: String, _ first: Activation) throws {
        let x = randomVariable(Shape(5, 4), seed: 13), w1 = randomVariable(Shape(4, 6), seed: 14)
        let b1 = randomVariable(Shape([6]), seed: 15, scale: 0.5), w2 = randomVariable(Shape(6, 3), seed: 16)
        let b2 = randomVariable(Shape([3]), seed: 17, scale: 0.5)
        try check(backend, [x, w1, b1, w2, b2], "dense \(first) → dense tanh") { tape in
            crossEntropy(tape, tape.dense(tape.dense(x, w1, b1, first), w2, b2, .tanh))
        }
    }

    /// A dense op's output read by two ops: its gradient is the sum of both, and its own backward
    /// applies the activation's derivative (the fused path is only for a single reader).
    @Test(arguments: GradientCheckBackends.names)
    func denseOutputReadTwice(backend: String) throws {
        let x = randomVariable(Shape(5, 4), seed: 18), w1 = randomVariable(Shape(4, 5), seed: 19)
        let b1 = randomVariable(Shape([5]), seed: 20, scale: 0.5), w2 = randomVariable(Shape(5, 3), seed: 21)
        let b2 = randomVariable(Shape([3]), seed: 22, scale: 0.5), w3 = randomVariable(Shape(5, 5), seed: 23)
        try check(backend, [x, w1, b1, w2, b2, w3], "dense output read twice") { tape in
            let u = tape.dense(x, w1, b1, .relu)
            let v = tape.matmul(u, w3)
            // Recorded last, this dense op's backward runs first, while u has no gradient yet.
            let p = tape.dense(u, w2, b2, .relu)
            return crossEntropy(tape, tape.matmul(v, p))
        }
    }

    /// A weight used by two matmuls receives the sum of both contributions.
    @Test(arguments: GradientCheckBackends.names)
    func gradientsAccumulateOverUses(backend: String) throws {
        let x = randomVariable(Shape(5, 3), seed: 11)
        let w = randomVariable(Shape(3, 3), seed: 12)
        try check(backend, [x, w], "w used twice") { tape in
            let y = tape.matmul(x, w)
            return crossEntropy(tape, tape.matmul(tape.activation(y, .sigmoid), w))
        }
    }

    @Test(arguments: GradientCheckBackends.names)
    func softmaxAndLogSoftmax(backend: String) throws {
        let x = randomVariable(Shape(5, 3), seed: 8)
        // A cross-entropy on top of the op, so the gradient reaching it is not uniform per row.
        try check(backend, [x], "softmax") { crossEntropy($0, $0.softmax(x)) }
        try check(backend, [x], "log_softmax") { crossEntropy($0, $0.logSoftmax(x)) }
    }
}
