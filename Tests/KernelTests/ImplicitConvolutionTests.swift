// The C kernels' implicit-GEMM convolutions (CKernels/conv_gemm.c, called directly: the backend routes the
// smallest fields to the whole buffer) and the Swift kernels' (Sources/SwiftKernels/ConvProducts.swift, through
// their backend, which never unfolds whole) against the whole-buffer algorithm (im2col, the dense products,
// col2im) on the same kernels, bit for bit, on every C code path and both Swift builds. The shapes are large enough for several unfolded chunks per thread (chunk
// borders fall inside images), several K blocks in the weight gradient, and a split of the weight gradient's
// rows between threads.

import CKernels
import Dendrite
import Testing

struct ImplicitConvCase: Sendable, CustomTestStringConvertible {
    var input: Shape, filters, kernel, stride: Int
    var padding: Padding
    /// The stride along rows, where it differs from the one along columns (`stride`).
    var strideH: Int? = nil
    var testDescription: String {
        "\(input) → \(filters) \(kernel)x\(kernel) stride \(strideH.map { "\($0)x" } ?? "")\(stride) padding \(padding.text)"
    }

    static let all = [
        ImplicitConvCase(input: Shape(6, 20, 20, 7), filters: 16, kernel: 5, stride: 1, padding: .same),
        ImplicitConvCase(input: Shape(5, 23, 19, 12), filters: 9, kernel: 3, stride: 2, padding: .explicit(rows: 2, cols: 1)),
        ImplicitConvCase(input: Shape(3, 30, 30, 1), filters: 40, kernel: 3, stride: 1, padding: .valid),
        // One input channel and at most 16 filters: the direct kernels (conv_direct.c, conv_narrow_weight.c), with a last block of
        // fewer than 16 output pixels, a 25-float field (two groups of field positions) and a 9-float one.
        ImplicitConvCase(input: Shape(4, 28, 28, 1), filters: 6, kernel: 5, stride: 1, padding: .same),
        ImplicitConvCase(input: Shape(2, 19, 37, 1), filters: 16, kernel: 3, stride: 1, padding: .explicit(rows: 2, cols: 1)),
        // Several K blocks of greyscale 5x5 rows of positions (blocks spread over 28 image columns at KC 256, too
        // thin for the block lanes); 3 filters (4 accumulators).
        ImplicitConvCase(input: Shape(24, 28, 28, 1), filters: 6, kernel: 5, stride: 1, padding: .same),
        ImplicitConvCase(input: Shape(3, 11, 40, 1), filters: 3, kernel: 5, stride: 1, padding: .valid),
        // Enough K blocks for the narrow weight gradient's partial sums to take two passes at a KC of up to 256
        // (15 groups of segments, 34 blocks to a pass; 8,784 pixels make 35 blocks at KC 256, 55 at 160).
        ImplicitConvCase(input: Shape(61, 12, 12, 8), filters: 16, kernel: 5, stride: 1, padding: .same),
        // Greyscale "same" layers of at most 8 filters with enough K blocks to fill the weight gradient's block
        // lanes (conv_block_lanes_weight.c, BlockLanesWeight.swift) at a KC of 160, 256, 320, 384 or 512, most
        // with a short last block: filter groups of 3 + 3, 2 + 3 and 3 + 4 filters, 5x5 and 3x3 kernels.
        ImplicitConvCase(input: Shape(21, 19, 24, 1), filters: 6, kernel: 5, stride: 1, padding: .same),
        ImplicitConvCase(input: Shape(25, 20, 30, 1), filters: 5, kernel: 5, stride: 1, padding: .same),
        ImplicitConvCase(input: Shape(29, 17, 30, 1), filters: 7, kernel: 3, stride: 1, padding: .same),
        // The forward's transposed stores of 5 and 8 filters: rows of 21 and 7 pixels (a short last block, and
        // one shorter than the 8-float store of a pixel's filters runs).
        ImplicitConvCase(input: Shape(2, 9, 23, 1), filters: 5, kernel: 3, stride: 1, padding: .valid),
        ImplicitConvCase(input: Shape(3, 7, 7, 1), filters: 8, kernel: 3, stride: 1, padding: .same),
        // The Swift forward's pixel lanes (PixelLanes.swift) for 1, 2 and 4 filters: rows of exactly 16 pixels,
        // of 32, and of 36 (a last block overlapping the one before), a padded field of 16 floats.
        ImplicitConvCase(input: Shape(2, 6, 18, 1), filters: 1, kernel: 3, stride: 1, padding: .valid),
        ImplicitConvCase(input: Shape(2, 9, 34, 1), filters: 2, kernel: 3, stride: 1, padding: .valid),
        ImplicitConvCase(input: Shape(3, 8, 35, 1), filters: 4, kernel: 4, stride: 1, padding: .explicit(rows: 1, cols: 2)),
        // Stride 2 down the rows only: the pixel lanes step output rows two image rows apart.
        ImplicitConvCase(input: Shape(2, 11, 20, 1), filters: 5, kernel: 3, stride: 1, padding: .same, strideH: 2),
        // At most 16 filters over several channels (conv_narrow*.c): kernel rows of 9 floats (a table of
        // offsets), of exactly 16 (one segment), and the 35- and 36-float rows above (overlapping segments).
        ImplicitConvCase(input: Shape(2, 13, 17, 3), filters: 5, kernel: 3, stride: 2, padding: .same),
        ImplicitConvCase(input: Shape(3, 9, 9, 8), filters: 12, kernel: 2, stride: 1, padding: .valid),
        // At most 8 filters (the weight gradient's 8-lane vectors) with segments: kernel rows of 21 floats.
        ImplicitConvCase(input: Shape(2, 8, 9, 7), filters: 7, kernel: 3, stride: 1, padding: .valid),
        // Rows of 23 pixels: on the AVX-512 path the forward's one-vector tiles of 11 and 12 pixels.
        ImplicitConvCase(input: Shape(2, 5, 23, 4), filters: 10, kernel: 3, stride: 1, padding: .same),
        // Fields of several K blocks in the narrow forward, and on the AVX-512 path the two-vector groups of 32
        // filters (conv_narrow.c, conv_wide_weight.c): 64 (two full groups; 288 floats, the `cnn` preset's conv2),
        // 40 (a second group of 8; kernel rows of 66 floats, whose last 12-float segment overlaps) and 20 (a
        // second vector of 4 lanes; 576 floats, three K blocks); weight-gradient K blocks that span images.
        ImplicitConvCase(input: Shape(3, 12, 14, 32), filters: 64, kernel: 3, stride: 1, padding: .valid),
        ImplicitConvCase(input: Shape(2, 15, 13, 22), filters: 40, kernel: 3, stride: 2, padding: .same),
        ImplicitConvCase(input: Shape(3, 10, 10, 64), filters: 20, kernel: 3, stride: 1, padding: .same),
        ImplicitConvCase(input: Shape(2, 9, 9, 40), filters: 16, kernel: 3, stride: 1, padding: .valid),
        // One channel, more than 16 filters, 3x3 (the `cnn` preset's first layer): on AVX-512 the two-vector
        // forward and the weight gradient's whole-field tile; padded, and a group of 4 filters.
        ImplicitConvCase(input: Shape(3, 17, 15, 1), filters: 36, kernel: 3, stride: 1, padding: .same),
    ]
}

@Suite("Implicit-GEMM convolutions equal im2col + GEMM")
struct ImplicitConvolutionTests {
    @Test(arguments: TestBackends.all, ImplicitConvCase.all)
    func sameBits(backendName: String, tc: ImplicitConvCase) throws {
        let backend = try makeBackend(backendName)
        let gemm = backend.gemm
        let window = ConvolutionWindow(input: tc.input, kernel: (tc.kernel, tc.kernel),
                                       stride: (tc.strideH ?? tc.stride, tc.stride), padding: tc.padding)
        var cWindow = window.c
        // The 3x3 stride-1 layers of 16 channels and more take the Winograd kernels by default (their own tests,
        // WinogradConvolutionTests); the implicit GEMMs remain theirs when switched off, and are checked here.
        dk_conv2d_set_winograd(0)
        defer { dk_conv2d_set_winograd(-1) }
        let m = window.pixels, k = window.fieldSize, n = tc.filters
        let x = randomFloats(tc.input.count, seed: 1), w = randomFloats(k * n, seed: 2, in: -0.3...0.3)
        let bias = randomFloats(n, seed: 3), dout = randomFloats(m * n, seed: 4)
        let shape = tc.testDescription
        let swift = backendName.hasPrefix("swift")
        var col = [Float](repeating: 0, count: m * k)
        backend.convolution.im2col(col: &col, input: x, window: window)

        for (activation, kind) in [(Activation.identity, DK_ACT_IDENTITY), (.relu, DK_ACT_RELU), (.elu(alpha: 1), DK_ACT_ELU)] {
            var implicit = [Float](repeating: .nan, count: m * n), whole = implicit
            if swift {
                gemm.convolutionForward(out: &implicit, input: x, weight: w, bias: bias, outChannels: n, window: window,
                                        activation: activation, unfolded: nil, unfold: backend.convolution,
                                        epilogue: backend.elementwise)
            } else {
                dk_conv2d_forward(&implicit, x, w, bias, Int32(n), &cWindow, kind, kind == DK_ACT_ELU ? 1 : 0)
            }
            gemm.denseForward(out: &whole, x: col, weight: w, bias: bias, m: m, n: n, k: k, activation: activation,
                              epilogue: backend.elementwise)
            expectBitwiseEqual(implicit, whole, "conv forward \(activation)[\(backendName)]", shape: shape)
        }

        for accumulate in [false, true] {
            let start = accumulate ? randomFloats(k * n, seed: 5) : [Float](repeating: .nan, count: k * n)
            var implicit = start, whole = start
            if swift {
                gemm.convolutionBackwardWeights(dweight: &implicit, dout: dout, input: x, outChannels: n, window: window,
                                                accumulate: accumulate, unfolded: nil)
            } else {
                dk_conv2d_backward_weight(&implicit, dout, x, Int32(n), &cWindow, accumulate ? 1 : 0)
            }
            gemm.sgemm(transA: true, transB: false, m: k, n: n, k: m, alpha: 1, a: col, lda: k, b: dout, ldb: n,
                       beta: accumulate ? 1 : 0, c: &whole, ldc: n)
            expectBitwiseEqual(implicit, whole, "conv weight gradient, accumulate \(accumulate)[\(backendName)]",
                               shape: shape)
        }

        var implicit = [Float](repeating: .nan, count: tc.input.count), whole = implicit
        if swift {
            gemm.convolutionBackwardInputs(dinput: &implicit, dout: dout, weight: w, outChannels: n, window: window,
                                           unfolded: nil, unfold: backend.convolution)
        } else {
            dk_conv2d_backward_input(&implicit, dout, w, Int32(n), &cWindow)
        }
        var dcol = [Float](repeating: 0, count: m * k)
        gemm.sgemm(transA: false, transB: true, m: m, n: k, k: n, alpha: 1, a: dout, lda: n, b: w, ldb: n, beta: 0,
                   c: &dcol, ldc: k)
        backend.convolution.col2im(dinput: &whole, dcol: dcol, window: window)
        expectBitwiseEqual(implicit, whole, "conv input gradient[\(backendName)]", shape: shape)
    }

    /// The backend takes the implicit GEMMs except where the whole buffer is faster: the smallest fields, unless
    /// the layer's forward and weight gradient both run directly.
    @Test(arguments: CodePath.supported)
    func smallFieldsAreUnfoldedWhole(path: CodePath) throws {
        try CodePath.selectForThisThread(path)
        defer { try? CodePath.selectForThisThread(nil) }
        let gemm = Backends.c.gemm
        let grey = ConvolutionWindow(input: Shape(128, 28, 28, 1), kernel: (3, 3), stride: (1, 1), padding: .valid)
        let wide = ConvolutionWindow(input: Shape(128, 26, 26, 32), kernel: (3, 3), stride: (1, 1), padding: .valid)
        #expect(gemm.convolutionNeedsUnfoldedInput(grey, outChannels: 32) == (path != .avx512),
                "a 9-float field, 32 filters: direct on AVX-512 (two-vector tiles), else unfolded whole")
        #expect(!gemm.convolutionNeedsUnfoldedInput(grey, outChannels: 6), "6 filters on one channel: direct kernels")
        #expect(!gemm.convolutionNeedsUnfoldedInput(wide, outChannels: 64), "a 288-float field: implicit GEMM or direct")
    }
}
