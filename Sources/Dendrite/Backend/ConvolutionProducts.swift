/// A convolution's products by way of the whole unfolded input: im2col into the caller's buffer, then the
/// dense layer's products on it (and col2im after the input gradient's). This is what a backend gets that
/// brings only a GEMM (a CBLAS library) or a plain kernel set; kernels that fuse the unfolding into their
/// products (the C kernels' implicit GEMM) implement the entries themselves and need no buffer.
extension GEMMKernels {
    public func convolutionNeedsUnfoldedInput(_ window: ConvolutionWindow, outChannels: Int) -> Bool { true }

    public func convolutionUsesWinograd(_ window: ConvolutionWindow, outChannels: Int, activation: Activation) -> Bool {
        false
    }

    public func convolutionForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
                                   window: ConvolutionWindow, activation: Activation,
                                   unfolded: UnsafeMutablePointer<Float>?, unfold: any ConvolutionKernels,
                                   epilogue: any ElementwiseKernels) {
        UnfoldedConvolution.forward(self, out: out, input: input, weight: weight, bias: bias, outChannels: outChannels,
                                    window: window, activation: activation, unfolded: unfolded, unfold: unfold,
                                    epilogue: epilogue)
    }

    public func convolutionBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                           input: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                           accumulate: Bool, unfolded: UnsafePointer<Float>?) {
        UnfoldedConvolution.backwardWeights(self, dweight: dweight, dout: dout, outChannels: outChannels,
                                            window: window, accumulate: accumulate, unfolded: unfolded)
    }

    public func convolutionBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                          weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                          unfolded: UnsafeMutablePointer<Float>?, unfold: any ConvolutionKernels) {
        UnfoldedConvolution.backwardInputs(self, dinput: dinput, dout: dout, weight: weight, outChannels: outChannels,
                                           window: window, unfolded: unfolded, unfold: unfold)
    }
}

/// The fused backward of a ReLU convolution read by a max pool is the C and Swift kernels' own; every other
/// backend takes the unfused path (the pool's backward, then the convolution's).
extension GEMMKernels {
    public func convolutionReLUMaxPoolBackwardApplies(_ window: ConvolutionWindow, outChannels: Int) -> Bool { false }

    public func convolutionReLUMaxPoolBackward(dinput: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                               dbias: UnsafeMutablePointer<Float>, dpool: UnsafePointer<Float>,
                                               output: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                               weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                               accumulateWeight: Bool, accumulateBias: Bool) {
        preconditionFailure("\(type(of: self)): convolutionReLUMaxPoolBackwardApplies is false, so nothing calls this")
    }
}

/// The whole-buffer algorithm, for the defaults above and for kernels whose own entries cannot take a window.
enum UnfoldedConvolution {
    static func forward(_ gemm: some GEMMKernels, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
                        window: ConvolutionWindow, activation: Activation, unfolded: UnsafeMutablePointer<Float>?,
                        unfold: any ConvolutionKernels, epilogue: any ElementwiseKernels) {
        let col = required(unfolded, gemm)
        unfold.im2col(col: col, input: input, window: window)
        gemm.denseForward(out: out, x: col, weight: weight, bias: bias, m: window.pixels, n: outChannels,
                          k: window.fieldSize, activation: activation, epilogue: epilogue)
    }

    static func backwardWeights(_ gemm: some GEMMKernels, dweight: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                accumulate: Bool, unfolded: UnsafePointer<Float>?) {
        let col = UnsafePointer(required(unfolded.map(UnsafeMutablePointer.init(mutating:)), gemm))
        let k = window.fieldSize
        gemm.sgemm(transA: true, transB: false, m: k, n: outChannels, k: window.pixels, alpha: 1, a: col, lda: k,
                   b: dout, ldb: outChannels, beta: accumulate ? 1 : 0, c: dweight, ldc: outChannels)
    }

    static func backwardInputs(_ gemm: some GEMMKernels, dinput: UnsafeMutablePointer<Float>,
                               dout: UnsafePointer<Float>, weight: UnsafePointer<Float>, outChannels: Int,
                               window: ConvolutionWindow, unfolded: UnsafeMutablePointer<Float>?,
                               unfold: any ConvolutionKernels) {
        let dcol = required(unfolded, gemm)
        let k = window.fieldSize
        gemm.sgemm(transA: false, transB: true, m: window.pixels, n: k, k: outChannels, alpha: 1, a: dout,
                   lda: outChannels, b: weight, ldb: outChannels, beta: 0, c: dcol, ldc: k)
        unfold.col2im(dinput: dinput, dcol: UnsafePointer(dcol), window: window)
    }

    private static func required(_ unfolded: UnsafeMutablePointer<Float>?, _ gemm: some GEMMKernels)
        -> UnsafeMutablePointer<Float> {
        guard let unfolded else {
            preconditionFailure("\(type(of: gemm)): convolutionNeedsUnfoldedInput is true, so the caller passes `unfolded`")
        }
        return unfolded
    }
}
