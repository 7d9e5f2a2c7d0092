// sgemm against the Double reference: all four transpose cases, alpha/beta variants (beta = 0 over
// a NaN-filled C must overwrite), padded leading dimensions, tiny and prime shapes, sizes just off
// the tile sizes of both implementations (C: MR 6, NR 16, KC 512, MC 144, NC 256; Swift: MR 6,
// NR 8, KC 384, MC 90), and the MLP's own forward and backward shapes.
//
// Tolerance per element: 1e-5·(|alpha|·Σ_k |a_ik b_kj| + |beta|·|c_ij|) + 1e-6.

import Dendrite
import Testing

/// One sgemm problem. Shapes read M×K×N like the issue: op(A) is M×K, op(B) is K×N.
struct GemmCase: Sendable, CustomTestStringConvertible {
    enum CFill: Sendable { case random, nan }

    var m: Int, k: Int, n: Int
    var transA = false, transB = false
    var alpha: Float = 1, beta: Float = 0
    /// Extra elements per row of A, B and C beyond the row length (padding is NaN in A and B and a
    /// sentinel in C, which must stay untouched).
    var padA = 0, padB = 0, padC = 0
    /// Initial content of C's real elements: beta == 0 must ignore even NaN.
    var cFill: CFill = .random

    var testDescription: String {
        let t = (transA ? "T" : "N") + (transB ? "T" : "N")
        var s = "\(m)×\(k)×\(n) \(t) alpha \(alpha) beta \(beta)"
        if padA + padB + padC > 0 { s += " pad(\(padA),\(padB),\(padC))" }
        if cFill == .nan { s += " C=NaN" }
        return s
    }

    var macs: Int { m * n * k }
}

enum GemmCases {
    static let transposes = [(false, false), (true, false), (false, true), (true, true)]

    /// Four transposes × the alpha/beta variants × two small odd shapes (one prime).
    static let alphaBeta: [GemmCase] = {
        var cases: [GemmCase] = []
        for (m, k, n) in [(7, 13, 29), (33, 17, 19)] {
            for (ta, tb) in transposes {
                cases.append(GemmCase(m: m, k: k, n: n, transA: ta, transB: tb, alpha: 1, beta: 0, cFill: .nan))
                cases.append(GemmCase(m: m, k: k, n: n, transA: ta, transB: tb, alpha: 1, beta: 1))
                cases.append(GemmCase(m: m, k: k, n: n, transA: ta, transB: tb, alpha: 0.5, beta: -2))
                cases.append(GemmCase(m: m, k: k, n: n, transA: ta, transB: tb, alpha: -1.5, beta: 0.25))
            }
        }
        return cases
    }()

    /// Leading dimensions larger than the row length, all four transposes.
    static let leadingDimensions: [GemmCase] = transposes.flatMap { ta, tb in
        [GemmCase(m: 17, k: 31, n: 15, transA: ta, transB: tb, alpha: 0.5, beta: -2, padA: 3, padB: 5, padC: 7),
         GemmCase(m: 13, k: 20, n: 33, transA: ta, transB: tb, alpha: 1, beta: 0, padA: 16, padB: 1, padC: 16,
                  cFill: .nan),
         GemmCase(m: 50, k: 70, n: 40, transA: ta, transB: tb, alpha: 1, beta: 1, padA: 9, padB: 11, padC: 2)]
    }

    /// 1×1×1 and degenerate or prime shapes.
    static let tiny: [GemmCase] = transposes.flatMap { ta, tb in
        [GemmCase(m: 1, k: 1, n: 1, transA: ta, transB: tb, alpha: 1, beta: 0, cFill: .nan),
         GemmCase(m: 1, k: 1, n: 1, transA: ta, transB: tb, alpha: 0.5, beta: -2),
         GemmCase(m: 2, k: 3, n: 5, transA: ta, transB: tb, alpha: 1, beta: 1),
         GemmCase(m: 11, k: 7, n: 3, transA: ta, transB: tb, alpha: 1, beta: 0, cFill: .nan)]
    } + [
        // K == 0 and alpha == 0 leave C = beta·C (BLAS); beta == 0 writes zeros even over NaN.
        GemmCase(m: 5, k: 0, n: 7, alpha: 1, beta: 0, cFill: .nan),
        GemmCase(m: 5, k: 0, n: 7, alpha: 1, beta: 0.5),
        GemmCase(m: 9, k: 4, n: 6, alpha: 0, beta: 0, cFill: .nan),
        GemmCase(m: 9, k: 4, n: 6, alpha: 0, beta: -3),
    ]

    /// Sizes just off the register and cache tiles, in mixed combinations and transposes.
    static let offTile: [GemmCase] = {
        let shapes: [(Int, Int, Int)] = [
            (5, 6, 7), (6, 16, 17), (7, 31, 33), (15, 47, 49), (16, 63, 65), (17, 95, 97),
            (31, 33, 47), (33, 7, 16), (47, 97, 6), (49, 5, 63), (63, 65, 15), (65, 49, 31),
            (95, 17, 5), (97, 15, 95), (1, 97, 65), (65, 1, 97), (97, 65, 1), (12, 16, 32), (18, 48, 64),
            // K across both KC (512 C, 384 Swift), M across MC (144 C, 90 Swift), N across NC (256 C).
            (145, 257, 17), (91, 385, 33), (7, 769, 47), (13, 31, 1025),
            // The AVX-512 path's 12×32 tile: M = 12+13 (borrowed rows: 7+6), 19 = 10+9, N just off 32
            // and 64, N from 16 to 31 (computed transposed there only).
            (24, 33, 64), (25, 17, 65), (30, 40, 31), (131, 100, 95), (70, 40, 20), (19, 50, 96),
        ]
        return shapes.enumerated().map { i, s in
            let (ta, tb) = transposes[i % 4]
            let variants: [(Float, Float, GemmCase.CFill)] = [(1, 0, .nan), (1, 1, .random), (0.5, -2, .random)]
            let (alpha, beta, fill) = variants[i % 3]
            return GemmCase(m: s.0, k: s.1, n: s.2, transA: ta, transB: tb, alpha: alpha, beta: beta, cFill: fill)
        }
    }()

    /// The MLP (784-256-256-10, batch 128): forward NN, weight gradients TN (A transposed,
    /// accumulated with beta 1), input gradients NT (B transposed).
    static let mlp: [GemmCase] = [
        GemmCase(m: 128, k: 784, n: 256, alpha: 1, beta: 0, cFill: .nan),
        GemmCase(m: 128, k: 256, n: 256, alpha: 1, beta: 0, cFill: .nan),
        GemmCase(m: 128, k: 256, n: 10, alpha: 1, beta: 0, cFill: .nan),
        GemmCase(m: 784, k: 128, n: 256, transA: true, alpha: 1, beta: 0, cFill: .nan),
        GemmCase(m: 256, k: 128, n: 256, transA: true, alpha: 1, beta: 1),
        GemmCase(m: 256, k: 128, n: 10, transA: true, alpha: 1, beta: 1),
        GemmCase(m: 128, k: 256, n: 256, transB: true, alpha: 1, beta: 0, cFill: .nan),
        GemmCase(m: 128, k: 10, n: 256, transB: true, alpha: 1, beta: 0, cFill: .nan),
    ]

    /// Fewer than 16 columns, 32 rows or more and K ≥ 32: C computes the transposed product and
    /// writes C column by column (row stride padded, so a wrong stride shows), in all four layouts.
    /// 200×517×7 NN is packed ahead by the AVX-512 tiles (see gemm_kernel.h): a ragged last panel
    /// (each thread's 96 or 104 rows), several K blocks, each ending off a multiple of 8 steps.
    static let thinN: [GemmCase] = transposes.flatMap { ta, tb in
        [GemmCase(m: 40, k: 33, n: 10, transA: ta, transB: tb, alpha: 1, beta: 0, padC: 3, cFill: .nan),
         GemmCase(m: 131, k: 300, n: 15, transA: ta, transB: tb, alpha: 0.5, beta: -2, padA: 2, padB: 1, padC: 5),
         GemmCase(m: 32, k: 257, n: 1, transA: ta, transB: tb, alpha: -1.5, beta: 1),
         GemmCase(m: 200, k: 517, n: 7, transA: ta, transB: tb, alpha: 1, beta: 1, padA: 3, padC: 2)]
    }

    /// A that C packs into row panels: transposed A too large to read in place (K·lda over C's 512 KB),
    /// and row-major A whose rows share L1 sets or that many column panels read; M ends in each kind
    /// of short panel (8 = 4+4, 9 = 5+4, 151 = 144 + 4+3), K crosses KC.
    static let packedA: [GemmCase] = [
        GemmCase(m: 8, k: 600, n: 40, transA: true, alpha: 1, beta: 0, padA: 500, cFill: .nan),
        GemmCase(m: 9, k: 260, n: 17, transA: true, transB: true, alpha: 0.5, beta: -2, padA: 600),
        GemmCase(m: 151, k: 300, n: 33, transA: true, alpha: 1, beta: 1, padA: 400),
        GemmCase(m: 17, k: 600, n: 40, transA: true, alpha: 1, beta: 0, padA: 500, cFill: .nan), // 12+5 = 9+8
        // Each k step's run of A spans the column but for 3 floats: packed run by run, not panel by panel
        // (where one thread's rows take all of M: always for M = 9, a single row of tiles).
        GemmCase(m: 151, k: 1000, n: 33, transA: true, alpha: 1, beta: 1, padA: 3),
        GemmCase(m: 9, k: 11000, n: 40, transA: true, alpha: -1, beta: 0, padA: 3, cFill: .nan),
        // Row-major A with rows 4 KB apart: the AVX-512 path packs it too (its 12 rows would share L1 sets).
        GemmCase(m: 31, k: 1000, n: 40, alpha: 1, beta: 0, padA: 24, cFill: .nan),
        GemmCase(m: 14, k: 2048, n: 33, alpha: 0.5, beta: 1),
        // Row-major A under a wide B (N from 512): packed on every path, 8 k steps of 8 rows at a time
        // through a register transpose; K ends off 8 (45 = 5·8 + 5; 350 = two K blocks of 175 on Zen 4),
        // M in full, borrowed and short panels.
        GemmCase(m: 29, k: 45, n: 520, alpha: 1, beta: 0, padA: 3, cFill: .nan),
        GemmCase(m: 26, k: 350, n: 515, transB: true, alpha: 0.5, beta: -2, padA: 5, padC: 1),
    ]
}

/// Runs one case on one backend against the reference, checking every element of C's buffer
/// (padding included: it must keep its sentinel).
func checkGemm(_ backendName: String, _ tc: GemmCase, seedBase: Int = 0) throws {
    let backend = try makeBackend(backendName)
    var g = SeededGenerator(seed: seed(seedBase, tc.m, tc.k, tc.n, tc.transA ? 1 : 0, tc.transB ? 1 : 0,
                                       Int(tc.alpha * 8), Int(tc.beta * 8)))
    // Stored shapes: A is (m,k) or (k,m); B is (k,n) or (n,k).
    let (aRows, aCols) = tc.transA ? (tc.k, tc.m) : (tc.m, tc.k)
    let (bRows, bCols) = tc.transB ? (tc.n, tc.k) : (tc.k, tc.n)
    let lda = max(1, aCols + tc.padA), ldb = max(1, bCols + tc.padB), ldc = tc.n + tc.padC
    let sentinel: Float = -7777
    var a = [Float](repeating: .nan, count: max(1, aRows * lda))
    var b = [Float](repeating: .nan, count: max(1, bRows * ldb))
    var c = [Float](repeating: sentinel, count: max(1, tc.m * ldc))
    for r in 0..<aRows { for j in 0..<aCols { a[r * lda + j] = g.float() } }
    for r in 0..<bRows { for j in 0..<bCols { b[r * ldb + j] = g.float() } }
    for r in 0..<tc.m {
        for j in 0..<tc.n { c[r * ldc + j] = tc.cFill == .nan ? .nan : g.float(-2, 2) }
    }
    let expected = Reference.sgemm(transA: tc.transA, transB: tc.transB, m: tc.m, n: tc.n, k: tc.k,
                                   alpha: tc.alpha, a: a, lda: lda, b: b, ldb: ldb,
                                   beta: tc.beta, c: c, ldc: ldc)
    var got = c
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            got.withUnsafeMutableBufferPointer { cp in
                backend.gemm.sgemm(transA: tc.transA, transB: tc.transB, m: tc.m, n: tc.n, k: tc.k,
                              alpha: tc.alpha, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                              beta: tc.beta, c: cp.baseAddress!, ldc: ldc)
            }
        }
    }
    let count = tc.m * ldc
    expectClose(Array(got.prefix(count)), Array(expected.values.prefix(count)),
                tolerance: { expected.tolerance[$0] },
                "sgemm[\(backendName)]", shape: tc.testDescription + " (C row stride \(ldc))")
}

@Suite("sgemm")
struct MatmulTests {
    @Test("alpha/beta in all four transpose cases", arguments: TestBackends.matmul, GemmCases.alphaBeta)
    func alphaBeta(backend: String, tc: GemmCase) throws {
        try checkGemm(backend, tc)
    }

    @Test("leading dimensions larger than the row length", arguments: TestBackends.matmul, GemmCases.leadingDimensions)
    func leadingDimensions(backend: String, tc: GemmCase) throws {
        try checkGemm(backend, tc)
    }

    @Test("1×1×1, tiny, K = 0 and alpha = 0", arguments: TestBackends.matmul, GemmCases.tiny)
    func tiny(backend: String, tc: GemmCase) throws {
        try checkGemm(backend, tc)
    }

    @Test("sizes just off the tile sizes", arguments: TestBackends.matmul, GemmCases.offTile)
    func offTile(backend: String, tc: GemmCase) throws {
        try checkGemm(backend, tc)
    }

    @Test("MLP shapes (forward NN, backward TN and NT)", arguments: TestBackends.matmul, GemmCases.mlp)
    func mlp(backend: String, tc: GemmCase) throws {
        try checkGemm(backend, tc)
    }

    @Test("thin products (N < 16), computed transposed", arguments: TestBackends.matmul, GemmCases.thinN)
    func thinN(backend: String, tc: GemmCase) throws {
        try checkGemm(backend, tc)
    }

    @Test("A packed into row panels (large transposed, or row-major)", arguments: TestBackends.matmul, GemmCases.packedA)
    func packedA(backend: String, tc: GemmCase) throws {
        try checkGemm(backend, tc)
    }

    @Test("repeated calls give the same bits (packing buffers are reused)", arguments: TestBackends.matmul)
    func repeatable(backend: String) throws {
        let be = try makeBackend(backend)
        let (m, k, n) = (37, 300, 41)
        let a = randomFloats(m * k, seed: 1), b = randomFloats(k * n, seed: 2)
        var first = [Float](repeating: 0, count: m * n), second = first
        // A different problem in between, so leftover packed panels would show.
        let other = randomFloats(64 * 64, seed: 3)
        var scratch = [Float](repeating: 0, count: 64 * 64)
        be.gemm.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                 beta: 0, c: &first, ldc: n)
        be.gemm.sgemm(transA: true, transB: true, m: 64, n: 64, k: 64, alpha: 1, a: other, lda: 64, b: other, ldb: 64,
                 beta: 0, c: &scratch, ldc: 64)
        be.gemm.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                 beta: 0, c: &second, ldc: n)
        expectBitwiseEqual(second, first, "sgemm[\(backend)] repeated", shape: "\(m)×\(k)×\(n)")
    }
}
