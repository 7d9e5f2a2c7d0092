// The Winograd convolutions (F(4x4, 3x3) for 3x3 stride-1 layers of 16 to 512 channels: CKernels/conv_winograd.c,
// called directly on every C code path, and Sources/SwiftKernels/Winograd.swift through both builds of the Swift
// backend) against a Double-precision direct convolution: forward with bias and each activation the C tiles
// apply, input gradient, and weight gradient overwritten and accumulated. Their bits are not
// the direct form's, so the comparison bounds the error: 2e-5 of the result's largest magnitude (measured: up to
// 7e-6 at the `cnn` shape; the transforms' constants, 1/6 to 8, cost about a decimal digit against summing
// directly). A wrong transform row or a misplaced tile misses by whole units.

import CKernels
import Dendrite
import Testing

struct WinogradCase: Sendable, CustomTestStringConvertible {
    var input: Shape, filters: Int
    var padding: Padding
    var testDescription: String { "\(input) → \(filters) 3x3 padding \(padding.text)" }

    static let all = [
        // Channels not a multiple of 16 on either side (partial vectors); 'same' output tiles cut at both edges.
        WinogradCase(input: Shape(2, 13, 11, 20), filters: 24, padding: .same),
        // Padding 2 above (the input gradient's full convolution then pads by 0) and 1 to the left; batch 1.
        WinogradCase(input: Shape(1, 9, 10, 17), filters: 33, padding: .explicit(rows: 2, cols: 1)),
        // An output of 6x6: one whole tile and one cut to 2 pixels each way.
        WinogradCase(input: Shape(3, 8, 8, 16), filters: 16, padding: .valid),
        // The `cnn` preset's second layer at batch 2: several blocks of tiles, tiles of both widths of vectors.
        WinogradCase(input: Shape(2, 26, 26, 32), filters: 64, padding: .valid),
    ]
}

/// The direct convolution in Double: output before bias and activation, input gradient, weight gradient.
private func directConvolution(_ window: ConvolutionWindow, filters: Int, x: [Float], w: [Float], dout: [Float])
    -> (out: [Double], dx: [Double], dw: [Double]) {
    let (h, wd, c, oh, ow) = (window.height, window.width, window.channels, window.outputHeight, window.outputWidth)
    var out = [Double](repeating: 0, count: window.pixels * filters)
    var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
    for n in 0..<window.batch {
        for oy in 0..<oh {
            for ox in 0..<ow {
                let o = ((n * oh + oy) * ow + ox) * filters
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let iy = oy - window.padTop + ky, ix = ox - window.padLeft + kx
                        guard iy >= 0 && iy < h && ix >= 0 && ix < wd else { continue }
                        for ci in 0..<c {
                            let xi = ((n * h + iy) * wd + ix) * c + ci, wi = ((ky * 3 + kx) * c + ci) * filters
                            for f in 0..<filters {
                                out[o + f] += Double(x[xi]) * Double(w[wi + f])
                                dx[xi] += Double(dout[o + f]) * Double(w[wi + f])
                                dw[wi + f] += Double(dout[o + f]) * Double(x[xi])
                            }
                        }
                    }
                }
            }
        }
    }
    return (out, dx, dw)
}

@Suite("Winograd convolutions against a direct Double reference")
struct WinogradConvolutionTests {
    @Test(arguments: TestBackends.all, WinogradCase.all)
    func againstDirect(backendName: String, tc: WinogradCase) throws {
        let backend = try makeBackend(backendName), gemm = backend.gemm
        defer { try? CodePath.selectForThisThread(nil) }
        let swift = backendName.hasPrefix("swift")
        let window = ConvolutionWindow(input: tc.input, kernel: (3, 3), stride: (1, 1), padding: tc.padding)
        var cWindow = window.c
        let n = tc.filters, shape = tc.testDescription
        try #require(gemm.convolutionUsesWinograd(window, outChannels: n, activation: .relu),
                     "the window must take the Winograd kernels")
        let x = randomFloats(tc.input.count, seed: 11), w = randomFloats(window.fieldSize * n, seed: 12, in: -0.3...0.3)
        let bias = randomFloats(n, seed: 13), dout = randomFloats(window.pixels * n, seed: 14)
        let direct = directConvolution(window, filters: n, x: x, w: w, dout: dout)
        /// Within 2e-5 of the largest magnitude the reference holds.
        func expectNear(_ got: [Float], _ expected: [Double], _ what: String) {
            let scale = expected.map(abs).max() ?? 0
            expectClose(got, expected, atol: 2e-5 * scale, rtol: 0, "\(what)[\(backendName)]", shape: shape)
        }

        let activations: [(Activation, dk_activation, Float)] = [
            (.identity, DK_ACT_IDENTITY, 0), (.relu, DK_ACT_RELU, 0), (.leakyReLU(alpha: 0.1), DK_ACT_LEAKY_RELU, 0.1),
        ]
        for (activation, kind, slope) in activations {
            var out = [Float](repeating: .nan, count: window.pixels * n)
            if swift {
                gemm.convolutionForward(out: &out, input: x, weight: w, bias: bias, outChannels: n, window: window,
                                        activation: activation, unfolded: nil, unfold: backend.convolution,
                                        epilogue: backend.elementwise)
            } else {
                dk_conv2d_forward(&out, x, w, bias, Int32(n), &cWindow, kind, slope)
            }
            let expected = direct.out.enumerated().map { i, z -> Double in
                let y = z + Double(bias[i % n])
                if kind == DK_ACT_RELU { return max(y, 0) }
                return kind == DK_ACT_LEAKY_RELU && y < 0 ? Double(slope) * y : y
            }
            expectNear(out, expected, "winograd forward, activation \(kind.rawValue)")
        }

        var dx = [Float](repeating: .nan, count: x.count)
        if swift {
            gemm.convolutionBackwardInputs(dinput: &dx, dout: dout, weight: w, outChannels: n, window: window,
                                           unfolded: nil, unfold: backend.convolution)
        } else {
            dk_conv2d_backward_input(&dx, dout, w, Int32(n), &cWindow)
        }
        expectNear(dx, direct.dx, "winograd input gradient")

        for accumulate in [false, true] {
            let start = accumulate ? randomFloats(w.count, seed: 15) : [Float](repeating: .nan, count: w.count)
            var dw = start
            if swift {
                gemm.convolutionBackwardWeights(dweight: &dw, dout: dout, input: x, outChannels: n, window: window,
                                                accumulate: accumulate, unfolded: nil)
            } else {
                dk_conv2d_backward_weight(&dw, dout, x, Int32(n), &cWindow, accumulate ? 1 : 0)
            }
            let expected = accumulate ? zip(direct.dw, start).map { $0 + Double($1) } : direct.dw
            expectNear(dw, expected, "winograd weight gradient, accumulate \(accumulate)")
        }
    }

    /// The Swift kernels apply the bias and activation to each tile as they write it: the bits must be those of
    /// the forward without them followed by the separate pass a dense layer uses (the C tiles' fused epilogue
    /// has its own order and is bounded by the test above).
    @Test(arguments: TestBackends.all.filter { $0.hasPrefix("swift") }, WinogradCase.all)
    func swiftEpilogueAsASeparatePass(backendName: String, tc: WinogradCase) throws {
        let backend = try makeBackend(backendName), gemm = backend.gemm
        let window = ConvolutionWindow(input: tc.input, kernel: (3, 3), stride: (1, 1), padding: tc.padding)
        let n = tc.filters, m = window.pixels
        let x = randomFloats(tc.input.count, seed: 21), w = randomFloats(window.fieldSize * n, seed: 22, in: -0.3...0.3)
        let bias = randomFloats(n, seed: 23), noBias = [Float](repeating: 0, count: n)
        for activation in [Activation.identity, .relu, .elu(alpha: 1)] {
            var fused = [Float](repeating: .nan, count: m * n), separate = fused
            gemm.convolutionForward(out: &fused, input: x, weight: w, bias: bias, outChannels: n, window: window,
                                    activation: activation, unfolded: nil, unfold: backend.convolution,
                                    epilogue: backend.elementwise)
            gemm.convolutionForward(out: &separate, input: x, weight: w, bias: noBias, outChannels: n, window: window,
                                    activation: .identity, unfolded: nil, unfold: backend.convolution,
                                    epilogue: backend.elementwise)
            let product = separate
            backend.elementwise.biasActivationForward(out: &separate, input: product, bias: bias, rows: m, cols: n,
                                                      activation: activation)
            expectBitwiseEqual(fused, separate, "winograd forward \(activation)[\(backendName)]",
                               shape: tc.testDescription)
        }
    }

    /// Outputs of at least dk_streaming_min_bytes() go to memory with streaming stores, whole tiles' cache lines at
    /// a time, beside ordinary stores for the tiles cut at the edges: each image's forward and input gradient must
    /// have the bits the same call gives for that image alone (a tile depends on its own image only).
    @Test(arguments: TestBackends.c)
    func streamedOutputs(backendName: String) throws {
        _ = try makeBackend(backendName)
        defer { try? CodePath.selectForThisThread(nil) }
        let image = Shape(1, 10, 10, 16), n = 16, perImage = image.count
        let batch = dk_streaming_min_bytes() / (MemoryLayout<Float>.size * perImage) + 1
        let x = randomFloats(batch * perImage, seed: 31), w = randomFloats(9 * 16 * n, seed: 32, in: -0.3...0.3)
        let bias = randomFloats(n, seed: 33), dout = randomFloats(batch * perImage, seed: 34)
        func window(_ images: Int) -> dk_window {
            ConvolutionWindow(input: Shape(images, 10, 10, 16), kernel: (3, 3), stride: (1, 1), padding: .same).c
        }
        var all = window(batch), one = window(1)
        var out = [Float](repeating: .nan, count: x.count), dx = out
        dk_conv2d_forward(&out, x, w, bias, Int32(n), &all, DK_ACT_RELU, 0)
        dk_conv2d_backward_input(&dx, dout, w, Int32(n), &all)
        for i in [0, batch / 2, batch - 1] {
            let images = (i * perImage)..<((i + 1) * perImage)
            var alone = [Float](repeating: .nan, count: perImage), dxAlone = alone
            dk_conv2d_forward(&alone, Array(x[images]), w, bias, Int32(n), &one, DK_ACT_RELU, 0)
            dk_conv2d_backward_input(&dxAlone, Array(dout[images]), w, Int32(n), &one)
            expectBitwiseEqual(Array(out[images]), alone, "streamed winograd forward, image \(i)[\(backendName)]",
                               shape: "batch \(batch)")
            expectBitwiseEqual(Array(dx[images]), dxAlone, "streamed winograd input gradient, image \(i)[\(backendName)]",
                               shape: "batch \(batch)")
        }
    }

    /// Which windows take them: 3x3, stride 1, padding up to 2, 16 to 512 channels each side, and not when the
    /// calling thread has them switched off; the Swift backend takes the same windows.
    @Test func whichWindowsTakeThem() throws {
        func uses(_ input: Shape, _ filters: Int, kernel: Int = 3, stride: Int = 1, padding: Padding = .valid) -> Bool {
            let window = ConvolutionWindow(input: input, kernel: (kernel, kernel), stride: (stride, stride), padding: padding)
            var w = window.c
            let c = dk_conv2d_uses_winograd(&w, Int32(filters)) != 0
            for backend in SwiftKernelBuild.supported.map(Backends.swift(build:)) {
                #expect(backend.gemm.convolutionUsesWinograd(window, outChannels: filters, activation: .relu) == c,
                        "\(backend.name) and C disagree on \(window)")
            }
            return c
        }
        #expect(uses(Shape(128, 26, 26, 32), 64), "the cnn preset's second layer")
        #expect(uses(Shape(128, 32, 32, 64), 64, padding: .same), "a VGG-style layer")
        #expect(!uses(Shape(128, 28, 28, 1), 32), "one input channel: the direct kernels")
        #expect(!uses(Shape(8, 26, 26, 32), 8), "8 filters")
        #expect(!uses(Shape(8, 26, 26, 32), 64, stride: 2), "stride 2")
        #expect(!uses(Shape(8, 26, 26, 32), 64, kernel: 5), "5x5")
        #expect(!uses(Shape(8, 26, 26, 32), 64, padding: .explicit(rows: 3, cols: 0)), "padding 3")
        #expect(!uses(Shape(8, 26, 26, 32), 513), "513 filters")
        dk_conv2d_set_winograd(0)
        defer { dk_conv2d_set_winograd(-1) }
        #expect(!uses(Shape(128, 26, 26, 32), 64), "switched off on this thread")
    }
}
