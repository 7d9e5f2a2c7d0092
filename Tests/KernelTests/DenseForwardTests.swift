// A dense layer's forward, out = f(x·W + b), as one backend call: against a naive reference on
// every backend, and, for the C backend (where the GEMM applies f in its tile stores, each thread
// to its own part of the product), bit for bit against the product followed by the separate bias +
// activation kernel.

import Dendrite
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
    /// Every activation (with two slopes or scales where there are any), for the bitwise comparison of the GEMM's epilogue
    /// with the activation kernels: the MLP's layers, and odd shapes whose edge tiles are partial in
    /// both directions, a product with fewer than 16 columns (computed transposed), a single
    /// element, and K = 0 (out = f(b)).
    static let everyActivation: [DenseCase] = ActivationCases.all.flatMap { act in
        [(128, 256, 256), (128, 256, 10), (37, 300, 41), (131, 33, 15), (5, 7, 3), (1, 1, 1), (9, 0, 6)]
            .map { DenseCase(m: $0.0, k: $0.1, n: $0.2, activation: act.activation) }
    }
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

    @Test("C: the fused call gives the bits of sgemm then biasActivationForward",
          arguments: DenseCases.everyActivation)
    func cFusedEqualsUnfused(tc: DenseCase) throws {
        let backend = try makeBackend("c")
        let (x, w, bias) = denseInputs(tc)
        // K = 0 leaves x and W empty; the kernels must not read them.
        let xp = x.isEmpty ? [0] : x, wp = w.isEmpty ? [0] : w
        var fused = [Float](repeating: .nan, count: tc.m * tc.n), unfused = fused
        backend.gemm.denseForward(out: &fused, x: xp, weight: wp, bias: bias, m: tc.m, n: tc.n, k: tc.k,
                                  activation: tc.activation, epilogue: backend.elementwise)
        backend.gemm.sgemm(transA: false, transB: false, m: tc.m, n: tc.n, k: tc.k, alpha: 1, a: xp,
                           lda: max(tc.k, 1), b: wp, ldb: tc.n, beta: 0, c: &unfused, ldc: tc.n)
        unfused.withUnsafeMutableBufferPointer { p in
            backend.elementwise.biasActivationForward(out: p.baseAddress!, input: p.baseAddress!, bias: bias,
                                                      rows: tc.m, cols: tc.n, activation: tc.activation)
        }
        expectBitwiseEqual(fused, unfused, "denseForward[c] vs sgemm + biasActivationForward",
                           shape: tc.testDescription)
    }
}
