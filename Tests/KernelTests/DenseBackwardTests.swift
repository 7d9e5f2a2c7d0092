// A dense layer's input gradient carried back through the previous layer's activation,
// dinput = (dout·Wᵀ) ⊙ f'(x) from the activation's output f(x), as one backend call: against a naive
// reference on every backend, and, for the C backend (where the GEMM applies f' in its tile
// stores), bit for bit against the product followed by the separate activation backward kernel.

import Dendrite
import Testing

/// dout, W, the activation's input x (with exact zeros, ReLU's kink) and its output f(x) in Float.
private func gateInputs(_ tc: DenseCase) -> (dout: [Float], w: [Float], x: [Float], output: [Float]) {
    var x = randomFloats(tc.m * tc.k, seed: seed(23, tc.m, tc.k, tc.n), in: -2...2)
    for i in stride(from: 0, to: x.count, by: 7) { x[i] = 0 }
    let output = x.map { Float(Reference.activation(Double($0), tc.activation)) }
    return (randomFloats(tc.m * tc.n, seed: seed(21, tc.m, tc.k, tc.n)),
            randomFloats(tc.k * tc.n, seed: seed(22, tc.m, tc.k, tc.n), in: -0.2...0.2), x, output)
}

@Suite("dense backward to the input (matmul + activation derivative in one call)")
struct DenseBackwardTests {
    /// Shapes are (m, k, n): dinput is m×k, dout m×n, W k×n. They cover full tiles, edge tiles,
    /// a product with fewer than 16 columns (computed transposed) and the MLP's layers.
    static let shapes = [(128, 256, 256), (128, 256, 10), (37, 41, 300), (131, 15, 300)]
    static let cases: [DenseCase] = shapes.flatMap { s in
        [Activation.identity, .relu, .leakyReLU(alpha: 0.1), .sigmoid, .tanh, .elu(), .selu].map {
            DenseCase(m: s.0, k: s.1, n: s.2, activation: $0)
        }
    }
    /// For the bitwise comparison of the GEMM's epilogue with the activation kernel: every activation
    /// with other slopes too, and smaller odd shapes (a single element among them).
    static let everyActivation: [DenseCase] = (shapes + [(5, 3, 7), (1, 1, 1)]).flatMap { s in
        ActivationCases.all.map { DenseCase(m: s.0, k: s.1, n: s.2, activation: $0.activation) }
    }

    @Test("dinput = (dout·Wᵀ) ⊙ f'(x) against a naive reference", arguments: TestBackends.matmul, cases)
    func againstReference(backend name: String, tc: DenseCase) throws {
        let backend = try makeBackend(name)
        let (dout, w, x, output) = gateInputs(tc)
        let product = Reference.sgemm(transA: false, transB: true, m: tc.m, n: tc.k, k: tc.n, alpha: 1, a: dout,
                                      lda: tc.n, b: w, ldb: tc.n, beta: 0,
                                      c: [Float](repeating: 0, count: tc.m * tc.k), ldc: tc.k)
        // f' from x in Double; the kernels take it from the rounded output, hence the relative slack.
        let expected = product.values.indices.map { product.values[$0] * Reference.activationDerivative(Double(x[$0]), tc.activation) }
        var dinput = [Float](repeating: .nan, count: tc.m * tc.k)
        backend.gemm.denseBackwardInputs(dinput: &dinput, dout: dout, weight: w, output: output, m: tc.m, n: tc.n, k: tc.k,
                                    activation: tc.activation, epilogue: backend.elementwise)
        expectClose(dinput, expected, tolerance: { 2 * product.tolerance[$0] + 1e-5 * abs(product.values[$0]) },
                    "denseBackwardInputs[\(name)]", shape: tc.testDescription)
    }

    @Test("C: the fused call gives the bits of sgemm then activationBackward", arguments: everyActivation)
    func cFusedEqualsUnfused(tc: DenseCase) throws {
        let backend = try makeBackend("c")
        let (dout, w, _, output) = gateInputs(tc)
        var fused = [Float](repeating: .nan, count: tc.m * tc.k), unfused = fused
        backend.gemm.denseBackwardInputs(dinput: &fused, dout: dout, weight: w, output: output, m: tc.m, n: tc.n,
                                         k: tc.k, activation: tc.activation, epilogue: backend.elementwise)
        backend.gemm.sgemm(transA: false, transB: true, m: tc.m, n: tc.k, k: tc.n, alpha: 1, a: dout, lda: tc.n,
                           b: w, ldb: tc.n, beta: 0, c: &unfused, ldc: tc.k)
        unfused.withUnsafeMutableBufferPointer { p in
            backend.elementwise.activationBackward(dinput: p.baseAddress!, doutput: p.baseAddress!, output: output,
                                                   count: tc.m * tc.k, activation: tc.activation)
        }
        expectBitwiseEqual(fused, unfused, "denseBackwardInputs[c] vs sgemm + activationBackward",
                           shape: tc.testDescription)
    }
}
