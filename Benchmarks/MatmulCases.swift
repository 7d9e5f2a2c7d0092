import Dendrite

/// Matmul at the shapes and layouts one step of the 784-256-256-10 MLP (batch 128) runs, squares, and
/// the implicit GEMMs of the `cnn` preset's second convolution (3×3, 32 -> 64 channels on 24×24 maps,
/// batch 128: M = 128·24·24 pixels, K = 3·3·32, N = 64).
/// Names read M×K×N; NN is the forward pass, TN (A stored K×M) the weight gradients, NT (B stored N×K)
/// the input gradients.
enum MatmulCases {
    static func all(quick: Bool) -> [BenchCase] {
        var cases = [
            matmul("NN", 128, 784, 256, "forward, layer 1"),
            matmul("NN", 128, 256, 256, "forward, layer 2"),
            matmul("NN", 128, 256, 10, "forward, layer 3"),
            matmul("TN", 784, 128, 256, "weight gradient, layer 1"),
            matmul("TN", 256, 128, 256, "weight gradient, layer 2"),
            matmul("TN", 256, 128, 10, "weight gradient, layer 3"),
            matmul("NT", 128, 256, 256, "input gradient, layer 2"),
            matmul("NT", 128, 10, 256, "input gradient, layer 3"),
        ]
        // 2048³ takes seconds per call on the Swift backend at one thread: too slow for --quick.
        for size in quick ? [256, 512, 1024] : [256, 512, 1024, 2048] {
            cases.append(matmul("NN", size, size, size, "square"))
        }
        if !quick {
            let pixels = 128 * 24 * 24, patch = 3 * 3 * 32, channels = 64
            cases += [
                matmul("NN", pixels, patch, channels, "cnn conv 2 forward"),
                matmul("TN", patch, pixels, channels, "cnn conv 2 weight gradient"),
                matmul("NT", pixels, channels, patch, "cnn conv 2 input gradient"),
            ]
        }
        return cases
    }

    static func matmul(_ layout: String, _ m: Int, _ k: Int, _ n: Int, _ role: String) -> BenchCase {
        let transA = layout.hasPrefix("T"), transB = layout.hasSuffix("T")
        return BenchCase(name: "matmul \(layout) \(dims(m, k, n)) (\(role))", group: "matmul",
                         work: .flops(2 * Double(m) * Double(n) * Double(k)), includesOpenBLAS: true) {
            let a = FloatBuffer(count: m * k, seed: 1), b = FloatBuffer(count: k * n, seed: 2)
            let c = FloatBuffer(count: m * n, seed: 3)
            return { backend in
                {
                    backend.gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1,
                                  a: a.readOnly, lda: transA ? m : k, b: b.readOnly, ldb: transB ? k : n,
                                  beta: 0, c: c.pointer, ldc: n)
                }
            }
        }
    }
}
