// A dense layer's forward, out = f(x·W + b), as one backend call: against a naive reference on
// every backend, and, for the C kernel (where each thread applies f to its own part of the
// product), bit for bit against the product followed by the separate bias + activation kernel.

import CKernels
@testable import Dendrite  // Activation.cKind
import Testing

struct DenseCase: Sendable, CustomTestStringConvertible {
    var m: Int, k: Int, n: Int
    var activation: Activation
    var testDescription: String { "\(m)×\(k)×\(n) \(activation)" }
}

enum DenseCases {
    /// The MLP's layers (N = 10 takes the transposed thin path), sizes off the tiles, and K = 0.
    static let shapes: [(Int, Int, Int)] = [(128, 784, 256), (128, 256, 10), (37, 300, 41), (5, 7, 3), (131, 33, 15),
                                            (9, 0, 6)]
    static let activations: [Activation] = [.identity, .relu, .leakyReLU(alpha: 0.1), .tanh]
    static let all: [DenseCase] = shapes.flatMap { s in
        activations.map { DenseCase(m: s.0, k: s.1, n: s.2, activation: $0) }
    }
    /// Every activation, for the bitwise comparison (exp-based ones included).
    static let everyActivation: [DenseCase] = [Activation.identity, .relu, .leakyReLU(), .sigmoid, .tanh, .elu(), .selu]
        .flatMap { act in [(128, 256, 256), (128, 256, 10), (37, 300, 41)].map { DenseCase(m: $0.0, k: $0.1, n: $0.2, activation: act) } }
}

private func denseInputs(_ tc: DenseCase) -> (x: [Float], w: [Float], bias: [Float]) {
    (randomFloats(tc.m * tc.k, seed: seed(11, tc.m, tc.k, tc.n)),
     randomFloats(tc.k * tc.n, seed: seed(12, tc.m, tc.k, tc.n), in: -0.2...0.2),
     randomFloats(tc.n, seed: seed(13, tc.m, tc.k, tc.n), in: -0.5...0.5))
}

@Suite("dense forward (matmul + bias + activation in one call)")
struct DenseForwardTests {
    /// f is 1-Lipschitz for these activations, so the product's tolerance carries over, plus the
    /// rounding of the bias add and tanh's approximation error.
    @Test("out = f(x·W + b) against a naive reference", arguments: TestBackends.matmul, DenseCases.all)
    func againstReference(backend name: String, tc: DenseCase) throws {
        let backend = try makeBackend(name)
        let (x, w, bias) = denseInputs(tc)
        let product = Reference.sgemm(transA: false, transB: false, m: tc.m, n: tc.n, k: tc.k, alpha: 1,
                                      a: x.isEmpty ? [0] : x, lda: max(tc.k, 1), b: w.isEmpty ? [0] : w,
                                      ldb: tc.n, beta: 0, c: [Float](repeating: 0, count: tc.m * tc.n), ldc: tc.n)
        var expected = product.values
        for i in 0..<expected.count {
            expected[i] = Reference.activation(expected[i] + Double(bias[i % tc.n]), tc.activation)
        }
        var out = [Float](repeating: .nan, count: tc.m * tc.n)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                backend.gemm.denseForward(out: &out, x: xp.baseAddress ?? UnsafePointer(bitPattern: 16)!,
                                     weight: wp.baseAddress ?? UnsafePointer(bitPattern: 16)!, bias: bias,
                                     m: tc.m, n: tc.n, k: tc.k, activation: tc.activation,
                                     epilogue: backend.elementwise)
            }
        }
        expectClose(out, expected, tolerance: { product.tolerance[$0] + 2e-6 * (1 + abs(expected[$0])) },
                    "denseForward[\(name)]", shape: tc.testDescription)
    }

    @Test("C: the fused call gives the bits of dk_sgemm then dk_bias_activation_forward",
          arguments: DenseCases.everyActivation)
    func cFusedEqualsUnfused(tc: DenseCase) throws {
        let (x, w, bias) = denseInputs(tc)
        let act = tc.activation.cKind, alpha = tc.activation.alpha
        var fused = [Float](repeating: .nan, count: tc.m * tc.n), unfused = fused
        dk_sgemm_bias_activation(0, 0, Int32(tc.m), Int32(tc.n), Int32(tc.k), 1, x, Int32(tc.k), w, Int32(tc.n), 0,
                                 &fused, Int32(tc.n), bias, act, alpha)
        dk_sgemm(0, 0, Int32(tc.m), Int32(tc.n), Int32(tc.k), 1, x, Int32(tc.k), w, Int32(tc.n), 0, &unfused,
                 Int32(tc.n))
        unfused.withUnsafeMutableBufferPointer { p in
            dk_bias_activation_forward(p.baseAddress!, p.baseAddress!, bias, Int32(tc.m), Int32(tc.n), act, alpha)
        }
        expectBitwiseEqual(fused, unfused, "dk_sgemm_bias_activation", shape: tc.testDescription)
    }
}
