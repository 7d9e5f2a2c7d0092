// Results are bitwise identical for any thread count (the contract of CKernels.h and SwiftKernels):
// each kernel runs at 1, 2 and 3 threads on problems big enough to be split (above every grain
// size), and the outputs must have the same bits.
//
// The thread count is one process-wide setting (Threads.count), so the three suites below run one
// after another, each run restoring the previous count. Other tests of the process may set it
// meanwhile (the thread-sanitizer and training tests do); that changes only how a call is split,
// never its bits, which is what these suites check.

import Dendrite
import Foundation
import Testing

enum DeterminismKernel: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sgemmMLP, sgemm512, sums, crossEntropy, adam, sgd, biasBackward, softmaxFamily, activations, elementwise
    case convolution, dropout, batchNorm
    var testDescription: String { rawValue }
}

@Suite("Results do not depend on the thread count", .serialized)
struct DeterminismTests {}

extension DeterminismTests {
    @Suite("C kernels: bitwise identical for any thread count, on every code path", .serialized)
    struct CDeterminismTests {
        @Test("kernel results do not depend on the thread count", arguments: DeterminismKernel.allCases, TestBackends.c)
        func sameBits(kernel: DeterminismKernel, backend: String) throws {
            try DeterminismChecks().run(backendName: backend, kernel: kernel)
        }
    }

    @Suite("Swift kernels: bitwise identical for any thread count", .serialized)
    struct SwiftDeterminismTests {
        @Test("kernel results do not depend on the thread count", arguments: DeterminismKernel.allCases)
        func sameBits(kernel: DeterminismKernel) throws {
            try DeterminismChecks().run(backendName: "swift", kernel: kernel)
        }
    }

    @Suite("Swift kernels, portable build: bitwise identical for any thread count", .serialized)
    struct PortableSwiftDeterminismTests {
        @Test("kernel results do not depend on the thread count", arguments: DeterminismKernel.allCases)
        func sameBits(kernel: DeterminismKernel) throws {
            try DeterminismChecks().run(backendName: "swift-portable", kernel: kernel)
        }
    }
}

/// The checks, shared by the suites.
struct DeterminismChecks {
    /// 1 and 2 threads as required, plus 3 for a split that is not a power of two. Debug builds
    /// skip 3 on the Swift backend: its kernels are compiled -Onone there (100–800× slower), and
    /// this serialized suite would otherwise dominate the run time of `swift test`.
    static func threadCounts(_ backend: Backend) -> [Int] {
        backend.name == "swift" && TestBackends.isDebugBuild ? [1, 2] : [1, 2, 3]
    }

    /// Runs body once per thread count on `backend`, restoring its thread count afterwards, and
    /// checks every run against the first one, bit for bit.
    private func expectSameBits(_ backend: Backend, _ what: String, shape: String,
                                sourceLocation: SourceLocation = #_sourceLocation,
                                _ body: () -> [Float]) {
        let saved = Threads.count
        defer { Threads.count = saved }
        var first: [Float]? = nil
        for t in Self.threadCounts(backend) {
            Threads.count = t
            let result = body()
            if let first {
                expectBitwiseEqual(result, first, "\(what)[\(backend.name)] \(t) threads vs 1",
                                   shape: shape, sourceLocation: sourceLocation)
            } else {
                first = result
            }
        }
    }

    /// Doubles as Float pairs (high and low part) so they fit the Float comparison, bit-exactly.
    private func bits(_ values: [Double]) -> [Float] {
        values.flatMap { d -> [Float] in
            let u = d.bitPattern
            return [Float(bitPattern: UInt32(truncatingIfNeeded: u >> 32)), Float(bitPattern: UInt32(truncatingIfNeeded: u))]
        }
    }

    func run(backendName: String, kernel: DeterminismKernel) throws {
        let be = try makeBackend(backendName)
        switch kernel {
        case .sgemmMLP:
            for tc in GemmCases.mlp {
                try gemm(be, tc)
            }
        case .sgemm512:
            // Debug builds run the Swift sgemm ~100× slower than release (the Swift kernels are
            // compiled -Onone there): 512³ at three thread counts alone would take tens of
            // seconds, so debug uses 256³ for Swift; release runs the full size.
            let size = backendName.hasPrefix("swift") && TestBackends.isDebugBuild ? 256 : 512
            try gemm(be, GemmCase(m: size, k: size, n: size, alpha: 1, beta: 0, cFill: .nan))
            try gemm(be, GemmCase(m: size - 3, k: size + 5, n: size - 1, transA: true, transB: true, alpha: 0.5, beta: -2))
        case .sums:
            let n = 1_000_003
            let x = randomFloats(n, seed: 101, in: -100...100)
            expectSameBits(be, "sum, sumOfSquares", shape: "n=\(n)") {
                bits([be.elementwise.sum(x, count: n), be.elementwise.sumOfSquares(x, count: n)])
            }
        case .crossEntropy:
            // Enough rows that both implementations split them: C wants > 2·(1 + 32768/cols) rows,
            // Swift > 2·16384 elements.
            for (rows, cols) in [(8192, 10), (256, 1000)] {
                let x = randomFloats(rows * cols, seed: seed(102, cols), in: -20...20)
                var g = SeededGenerator(seed: seed(103, cols))
                let labels = (0..<rows).map { _ in Int32(g.int(cols)) }
                expectSameBits(be, "softmaxCrossEntropy", shape: "\(rows)×\(cols)") {
                    var losses = [Float](repeating: .nan, count: rows), d = [Float](repeating: .nan, count: rows * cols)
                    let mean = be.losses.softmaxCrossEntropy(losses: &losses, dlogits: &d, logits: x, labels: labels,
                                                      rows: rows, cols: cols, gradScale: 1 / Float(rows))
                    return losses + d + bits([mean])
                }
            }
        case .adam:
            let n = 300_001
            let p0 = randomFloats(n, seed: 104), g0 = randomFloats(n, seed: 105)
            expectSameBits(be, "adamStep ×2", shape: "n=\(n)") {
                var p = p0, m = [Float](repeating: 0, count: n), v = m
                be.optimizers.adamStep(param: &p, m: &m, v: &v, grad: g0, count: n, lr: 1e-3, beta1: 0.9, beta2: 0.999,
                            eps: 1e-8, step: 1)
                be.optimizers.adamStep(param: &p, m: &m, v: &v, grad: p0, count: n, lr: 1e-3, beta1: 0.9, beta2: 0.999,
                            eps: 1e-8, step: 2)
                return p + m + v
            }
        case .sgd:
            let n = 300_001
            let p0 = randomFloats(n, seed: 106), g0 = randomFloats(n, seed: 107)
            expectSameBits(be, "sgdStep", shape: "n=\(n)") {
                var p = p0, vel = [Float](repeating: 0, count: n)
                be.optimizers.sgdStep(param: &p, velocity: &vel, grad: g0, count: n, lr: 0.01, momentum: 0.9)
                be.optimizers.sgdStep(param: &p, velocity: &vel, grad: p0, count: n, lr: 0.01, momentum: 0.9)
                return p + vel
            }
        case .biasBackward:
            // C splits columns once cols > 2·max(64, 131072/rows), and rows into bands once rows ≥ 8192 and
            // cols ≤ 512; Swift splits once rows·cols > 2·65536.
            for (rows, cols) in [(256, 1030), (128, 2051), (1000, 300), (9001, 64), (8192, 3)] {
                let d = randomFloats(rows * cols, seed: seed(108, rows, cols), in: -5...5)
                let previous = randomFloats(cols, seed: seed(109, rows, cols))
                expectSameBits(be, "biasBackward", shape: "\(rows)×\(cols)") {
                    var a = [Float](repeating: .nan, count: cols), b = previous
                    be.elementwise.biasBackward(dbias: &a, dout: d, rows: rows, cols: cols, accumulate: false)
                    be.elementwise.biasBackward(dbias: &b, dout: d, rows: rows, cols: cols, accumulate: true)
                    return a + b
                }
            }
        case .softmaxFamily:
            // C splits the cheap row kernels (softmax backward, argmax) above 2·(1 + 131072/cols) rows.
            let (rows, cols) = (16384, 17)
            let x = randomFloats(rows * cols, seed: 110, in: -8...8), g = randomFloats(rows * cols, seed: 111)
            expectSameBits(be, "softmax/log-softmax forward and backward, argmax", shape: "\(rows)×\(cols)") {
                var y = [Float](repeating: .nan, count: x.count), ly = y, dy = y, dly = y
                var am = [Int32](repeating: -1, count: rows)
                be.losses.softmaxForward(out: &y, input: x, rows: rows, cols: cols)
                be.losses.logSoftmaxForward(out: &ly, input: x, rows: rows, cols: cols)
                be.losses.softmaxBackward(dinput: &dy, doutput: g, output: y, rows: rows, cols: cols)
                be.losses.logSoftmaxBackward(dinput: &dly, doutput: g, output: ly, rows: rows, cols: cols)
                be.losses.argmaxRows(out: &am, input: x, rows: rows, cols: cols)
                return y + ly + dy + dly + am.map { Float($0) }
            }
        case .activations:
            // Above 2·131072 elements, C's grain for cheap activations (3·32768 for Swift), and above
            // 2·(1 + 131072/cols) rows for the fused form, so every kind is split across threads.
            let n = 300_007
            let x = randomFloats(n, seed: 112, in: -6...6), g = randomFloats(n, seed: 113)
            let (rows, cols) = (600, 512)
            let bias = randomFloats(cols, seed: 114), xFused = randomFloats(rows * cols, seed: 118, in: -6...6)
            for act in ActivationCases.all where act.activation != .identity {
                expectSameBits(be, "activation forward/backward, bias+activation \(act)", shape: "n=\(n)") {
                    var y = [Float](repeating: .nan, count: n), d = y
                    var fused = [Float](repeating: .nan, count: rows * cols)
                    be.elementwise.activationForward(out: &y, input: x, count: n, activation: act.activation)
                    be.elementwise.activationBackward(dinput: &d, doutput: g, output: y, count: n, activation: act.activation)
                    be.elementwise.biasActivationForward(out: &fused, input: xFused, bias: bias, rows: rows, cols: cols,
                                             activation: act.activation)
                    return y + d + fused
                }
            }
        case .elementwise:
            let n = 600_001
            let y0 = randomFloats(n, seed: 115), x = randomFloats(n, seed: 116)
            let (rows, cols) = (512, 784)
            var gen = SeededGenerator(seed: 117)
            let images = (0..<1000 * cols).map { _ in UInt8(truncatingIfNeeded: gen.next()) }
            let indices = (0..<rows).map { _ in Int32(gen.int(1000)) }
            let bias = randomFloats(cols, seed: 118)
            expectSameBits(be, "addInPlace, scaleInPlace, gatherRows, biasAdd", shape: "n=\(n), \(rows)×\(cols)") {
                var y = y0
                be.elementwise.addInPlace(&y, x, count: n)
                be.elementwise.scaleInPlace(&y, by: 1.7, count: n)
                var batch = [Float](repeating: .nan, count: rows * cols)
                be.data.gatherRows(out: &batch, images: images, indices: indices, rows: rows, cols: cols, scale: 1 / 255)
                var biased = [Float](repeating: .nan, count: rows * cols)
                be.elementwise.biasAdd(out: &biased, input: batch, bias: bias, rows: rows, cols: cols)
                return y + batch + biased
            }
        case .convolution:
            // im2col splits above 2·(1 + 65536/108) output rows in C (2·65536 elements in Swift), col2im
            // and the pool backward passes by image, pool forward passes above 2·(1 + 32768/144) rows.
            let xs = randomFloats(8 * 28 * 28 * 12, seed: 122), ws = randomFloats(3 * 3 * 12 * 16, seed: 123)
            let bs = randomFloats(16, seed: 124)
            expectSameBits(be, "conv2d relu, maxpool, avgpool: forward and backward", shape: "8×28×28×12 → 16 3x3") {
                let x = Variable(Tensor(shape: Shape(8, 28, 28, 12), values: xs), requiresGrad: true)
                let w = Variable(Tensor(shape: Shape(3, 3, 12, 16), values: ws), requiresGrad: true)
                let b = Variable(Tensor(shape: Shape([16]), values: bs), requiresGrad: true)
                let got = runWithRandomCotangent(be, inputs: [x, w, b], seed: 125) { tape in
                    let y = tape.conv2d(x, w, b, stride: (1, 1), padding: .same, .relu)
                    let p = tape.pool2d(y, .max, size: (3, 3), stride: (2, 2), padding: .same)
                    return tape.pool2d(p, .average, size: (2, 2), stride: (1, 1), padding: .valid)
                }
                return got.out + got.grads.flatMap { $0 }
            }
            // 20 → 24 channels, 3x3, stride 1 take the Winograd kernels in C: 128 tiles split in blocks of 36
            // between threads, the weight gradient's six rows of points split between them.
            let wx = randomFloats(8 * 16 * 16 * 20, seed: 126), ww = randomFloats(3 * 3 * 20 * 24, seed: 127)
            let wb = randomFloats(24, seed: 128)
            expectSameBits(be, "conv2d relu (Winograd in C): forward and backward", shape: "8×16×16×20 → 24 3x3") {
                let x = Variable(Tensor(shape: Shape(8, 16, 16, 20), values: wx), requiresGrad: true)
                let w = Variable(Tensor(shape: Shape(3, 3, 20, 24), values: ww), requiresGrad: true)
                let b = Variable(Tensor(shape: Shape([24]), values: wb), requiresGrad: true)
                let got = runWithRandomCotangent(be, inputs: [x, w, b], seed: 129) { tape in
                    tape.conv2d(x, w, b, stride: (1, 1), padding: .same, .relu)
                }
                return got.out + got.grads.flatMap { $0 }
            }
            // A greyscale first layer read by a 2x2 max pool: the fused backward's 16 fixed parts of the batch split
            // between threads.
            let gx = randomFloats(20 * 28 * 28, seed: 132), gw = randomFloats(5 * 5 * 6, seed: 133)
            let gb = randomFloats(6, seed: 134, in: -0.5...0.5)
            expectSameBits(be, "conv2d relu into maxpool 2 (first layer): weight and bias gradients", shape: "20×28×28×1 → 6 5x5") {
                let x = Variable(Tensor(shape: Shape(20, 28, 28, 1), values: gx))
                let w = Variable(Tensor(shape: Shape(5, 5, 1, 6), values: gw), requiresGrad: true)
                let b = Variable(Tensor(shape: Shape([6]), values: gb), requiresGrad: true)
                let got = runWithRandomCotangent(be, inputs: [w, b], seed: 135) { tape in
                    tape.pool2d(tape.conv2d(x, w, b, stride: (1, 1), padding: .same, .relu), .max, size: (2, 2),
                                stride: (2, 2), padding: .valid)
                }
                return got.grads.flatMap { $0 }
            }
            // The same for an inner layer (LeNet-5's second): weight, bias and input gradients.
            let nx = randomFloats(20 * 14 * 14 * 6, seed: 136), nw = randomFloats(5 * 5 * 6 * 16, seed: 137)
            let nb = randomFloats(16, seed: 138, in: -0.5...0.5)
            expectSameBits(be, "conv2d relu into maxpool 2 (inner layer): all gradients", shape: "20×14×14×6 → 16 5x5") {
                let x = Variable(Tensor(shape: Shape(20, 14, 14, 6), values: nx), requiresGrad: true)
                let w = Variable(Tensor(shape: Shape(5, 5, 6, 16), values: nw), requiresGrad: true)
                let b = Variable(Tensor(shape: Shape([16]), values: nb), requiresGrad: true)
                let got = runWithRandomCotangent(be, inputs: [x, w, b], seed: 139) { tape in
                    tape.pool2d(tape.conv2d(x, w, b, stride: (1, 1), padding: .valid, .relu), .max, size: (2, 2),
                                stride: (2, 2), padding: .valid)
                }
                return got.grads.flatMap { $0 }
            }
        case .batchNorm:
            // 9,216 rows: the C reductions cut them into 32 row bands split between threads (8,192 rows and
            // up); the elementwise passes split rows above 2·(1 + 65536/64).
            let shape = Shape(16, 24, 24, 64)
            let xs = randomFloats(shape.count, seed: 128), gs = randomFloats(64, seed: 129), bs = randomFloats(64, seed: 130)
            expectSameBits(be, "batchnorm forward and backward", shape: "16×24×24×64") {
                let x = Variable(Tensor(shape: shape, values: xs), requiresGrad: true)
                let gamma = Variable(Tensor(shape: Shape([64]), values: gs), requiresGrad: true)
                let beta = Variable(Tensor(shape: Shape([64]), values: bs), requiresGrad: true)
                let mean = Variable(Tensor(zeros: Shape([64]))), variance = Variable(Tensor(zeros: Shape([64])))
                let got = runWithRandomCotangent(be, inputs: [x, gamma, beta], seed: 131) { tape in
                    tape.batchNorm(x, gamma: gamma, beta: beta, movingMean: mean, movingVariance: variance,
                                   momentum: 0.99, epsilon: 1e-3)
                }
                return got.out + got.grads.flatMap { $0 } + mean.value.scalars + variance.value.scalars
            }
        case .dropout:
            let n = 300_001
            let x = randomFloats(n, seed: 126)
            expectSameBits(be, "dropout", shape: "n=\(n)") {
                var y = [Float](repeating: .nan, count: n)
                be.regularization.dropout(out: &y, input: x, count: n, rate: 0.3, key: 127, first: 0)
                return y
            }
        }
    }

    private func gemm(_ be: Backend, _ tc: GemmCase) throws {
        let (aRows, aCols) = tc.transA ? (tc.k, tc.m) : (tc.m, tc.k)
        let (bRows, bCols) = tc.transB ? (tc.n, tc.k) : (tc.k, tc.n)
        let a = randomFloats(aRows * aCols, seed: seed(119, tc.m, tc.k, tc.n))
        let b = randomFloats(bRows * bCols, seed: seed(120, tc.m, tc.k, tc.n))
        let c0 = tc.cFill == .nan ? [Float](repeating: .nan, count: tc.m * tc.n)
                                  : randomFloats(tc.m * tc.n, seed: seed(121, tc.m, tc.k, tc.n))
        expectSameBits(be, "sgemm", shape: tc.testDescription) {
            var c = c0
            be.gemm.sgemm(transA: tc.transA, transB: tc.transB, m: tc.m, n: tc.n, k: tc.k, alpha: tc.alpha,
                     a: a, lda: aCols, b: b, ldb: bCols, beta: tc.beta, c: &c, ldc: tc.n)
            return c
        }
    }
}
