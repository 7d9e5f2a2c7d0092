// The C kernels' implicit-GEMM convolutions (CKernels/conv_gemm.c) against the whole-buffer algorithm they
// replace (im2col, the dense products, col2im), bit for bit, on every C code path. The shapes are large enough
// for several unfolded chunks per thread (chunk borders fall inside images), several K blocks in the weight
// gradient, and a split of the weight gradient's rows between threads.

import Dendrite
import Testing

struct ImplicitConvCase: Sendable, CustomTestStringConvertible {
    var input: Shape, filters, kernel, stride: Int
    var padding: Padding
    var testDescription: String { "\(input) → \(filters) \(kernel)x\(kernel) stride \(stride) padding \(padding.text)" }

    static let all = [
        ImplicitConvCase(input: Shape(6, 20, 20, 7), filters: 16, kernel: 5, stride: 1, padding: .same),
        ImplicitConvCase(input: Shape(5, 23, 19, 12), filters: 9, kernel: 3, stride: 2, padding: .explicit(rows: 2, cols: 1)),
        ImplicitConvCase(input: Shape(3, 30, 30, 1), filters: 40, kernel: 3, stride: 1, padding: .valid),
    ]
}

@Suite("Implicit-GEMM convolutions equal im2col + GEMM")
struct ImplicitConvolutionTests {
    @Test(arguments: TestBackends.c, ImplicitConvCase.all)
    func sameBits(backendName: String, tc: ImplicitConvCase) throws {
        let backend = try makeBackend(backendName)
        let gemm = backend.gemm
        let window = ConvolutionWindow(input: tc.input, kernel: (tc.kernel, tc.kernel), stride: (tc.stride, tc.stride),
                                       padding: tc.padding)
        #expect(!gemm.convolutionNeedsUnfoldedInput(window), "the C kernels unfold \(window.fieldSize)-float fields themselves")
        let m = window.pixels, k = window.fieldSize, n = tc.filters
        let x = randomFloats(tc.input.count, seed: 1), w = randomFloats(k * n, seed: 2, in: -0.3...0.3)
        let bias = randomFloats(n, seed: 3), dout = randomFloats(m * n, seed: 4)
        let shape = tc.testDescription
        var col = [Float](repeating: 0, count: m * k)
        backend.convolution.im2col(col: &col, input: x, window: window)

        for activation in [Activation.relu, .elu(alpha: 1)] {
            var implicit = [Float](repeating: .nan, count: m * n), whole = implicit
            gemm.convolutionForward(out: &implicit, input: x, weight: w, bias: bias, outChannels: n, window: window,
                                    activation: activation, unfolded: nil, unfold: backend.convolution,
                                    epilogue: backend.elementwise)
            gemm.denseForward(out: &whole, x: col, weight: w, bias: bias, m: m, n: n, k: k, activation: activation,
                              epilogue: backend.elementwise)
            expectBitwiseEqual(implicit, whole, "conv forward \(activation)[\(backendName)]", shape: shape)
        }

        for accumulate in [false, true] {
            let start = accumulate ? randomFloats(k * n, seed: 5) : [Float](repeating: .nan, count: k * n)
            var implicit = start, whole = start
            gemm.convolutionBackwardWeights(dweight: &implicit, dout: dout, input: x, outChannels: n, window: window,
                                            accumulate: accumulate, unfolded: nil)
            gemm.sgemm(transA: true, transB: false, m: k, n: n, k: m, alpha: 1, a: col, lda: k, b: dout, ldb: n,
                       beta: accumulate ? 1 : 0, c: &whole, ldc: n)
            expectBitwiseEqual(implicit, whole, "conv weight gradient, accumulate \(accumulate)[\(backendName)]",
                               shape: shape)
        }

        var implicit = [Float](repeating: .nan, count: tc.input.count), whole = implicit
        gemm.convolutionBackwardInputs(dinput: &implicit, dout: dout, weight: w, outChannels: n, window: window,
                                       unfolded: nil, unfold: backend.convolution)
        var dcol = [Float](repeating: 0, count: m * k)
        gemm.sgemm(transA: false, transB: true, m: m, n: k, k: n, alpha: 1, a: dout, lda: n, b: w, ldb: n, beta: 0,
                   c: &dcol, ldc: k)
        backend.convolution.col2im(dinput: &whole, dcol: dcol, window: window)
        expectBitwiseEqual(implicit, whole, "conv input gradient[\(backendName)]", shape: shape)
    }
}
