import CKernels

// The C kernels' convolution, pooling, dropout and batch-norm entries (CKernels/conv.c, pool.c, dropout.c,
// batchnorm.c).
extension CKernelSet {
    public func im2col(col: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_im2col(col, input, &w)
    }

    public func col2im(dinput: UnsafeMutablePointer<Float>, dcol: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_col2im(dinput, dcol, &w)
    }

    public func maxPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_maxpool_forward(out, input, &w)
    }

    public func maxPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                input: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_maxpool_backward(dinput, dout, input, &w)
    }

    public func maxPoolReLUBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                    input: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_maxpool_relu_backward(dinput, dout, input, &w)
    }

    public func avgPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_avgpool_forward(out, input, &w)
    }

    public func avgPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_avgpool_backward(dinput, dout, &w)
    }

    public func dropout(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, rate: Float,
                        key: UInt64, first: Int) {
        dk_dropout(out, input, count, rate, key, first)
    }

    public func batchNormStatistics(mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                                    input: UnsafePointer<Float>, rows: Int, channels: Int) {
        dk_batchnorm_statistics(mean, variance, input, Int32(rows), Int32(channels))
    }

    public func batchNormForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                 invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                 rows: Int, channels: Int) {
        dk_batchnorm_forward(out, input, mean, invstd, gamma, beta, Int32(rows), Int32(channels))
    }

    public func batchNormBackward(dinput: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                  dbeta: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                  mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                  rows: Int, channels: Int) {
        dk_batchnorm_backward(dinput, dgamma, dbeta, dout, input, mean, invstd, gamma, Int32(rows), Int32(channels))
    }
}

extension ConvolutionWindow {
    /// The C kernels' form of this window.
    public var c: dk_window {
        dk_window(batch: Int32(batch), height: Int32(height), width: Int32(width), channels: Int32(channels),
                  kernel_h: Int32(kernelHeight), kernel_w: Int32(kernelWidth), stride_h: Int32(strideHeight),
                  stride_w: Int32(strideWidth), pad_top: Int32(padTop), pad_left: Int32(padLeft),
                  out_h: Int32(outputHeight), out_w: Int32(outputWidth))
    }
}

// The convolution products as implicit GEMMs (CKernels/conv_gemm.c), or direct kernels for layers of at most 16
// filters (conv_direct.c, conv_narrow*.c): no unfolded buffer, the same bits as the whole-buffer algorithm, which
// remains for the windows that run faster that way (dk_conv2d_prefers_unfolded).
extension CKernelSet {
    public func convolutionNeedsUnfoldedInput(_ window: ConvolutionWindow, outChannels: Int) -> Bool {
        var w = window.c
        return dk_conv2d_prefers_unfolded(&w, Int32(outChannels)) != 0
    }

    /// CKernels.h's dk_conv2d_uses_winograd; the forward's tiles apply no activation but ReLU and leaky ReLU.
    public func convolutionUsesWinograd(_ window: ConvolutionWindow, outChannels: Int, activation: Activation) -> Bool {
        var w = window.c
        let inTiles: Bool
        switch activation {
        case .identity, .relu, .leakyReLU: inTiles = true
        default: inTiles = false
        }
        return inTiles && dk_conv2d_uses_winograd(&w, Int32(outChannels)) != 0
    }

    public func convolutionForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
                                   window: ConvolutionWindow, activation: Activation,
                                   unfolded: UnsafeMutablePointer<Float>?, unfold: any ConvolutionKernels,
                                   epilogue: any ElementwiseKernels) {
        guard !convolutionNeedsUnfoldedInput(window, outChannels: outChannels) else {
            return UnfoldedConvolution.forward(self, out: out, input: input, weight: weight, bias: bias,
                                               outChannels: outChannels, window: window, activation: activation,
                                               unfolded: unfolded, unfold: unfold, epilogue: epilogue)
        }
        var w = window.c
        dk_conv2d_forward(out, input, weight, bias, Int32(outChannels), &w, activation.cKind, activation.alpha)
    }

    public func convolutionBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                           input: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                           accumulate: Bool, unfolded: UnsafePointer<Float>?) {
        guard !convolutionNeedsUnfoldedInput(window, outChannels: outChannels) else {
            return UnfoldedConvolution.backwardWeights(self, dweight: dweight, dout: dout, outChannels: outChannels,
                                                       window: window, accumulate: accumulate, unfolded: unfolded)
        }
        var w = window.c
        dk_conv2d_backward_weight(dweight, dout, input, Int32(outChannels), &w, accumulate ? 1 : 0)
    }

    public func convolutionBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                          weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                          unfolded: UnsafeMutablePointer<Float>?, unfold: any ConvolutionKernels) {
        guard !convolutionNeedsUnfoldedInput(window, outChannels: outChannels) else {
            return UnfoldedConvolution.backwardInputs(self, dinput: dinput, dout: dout, weight: weight,
                                                      outChannels: outChannels, window: window, unfolded: unfolded,
                                                      unfold: unfold)
        }
        var w = window.c
        dk_conv2d_backward_input(dinput, dout, weight, Int32(outChannels), &w)
    }

    public func convolutionReLUMaxPoolBackwardApplies(_ window: ConvolutionWindow, outChannels: Int) -> Bool {
        var w = window.c
        return dk_conv2d_relu_maxpool_backward_applies(&w, Int32(outChannels)) != 0
    }

    public func convolutionReLUMaxPoolBackward(dinput: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                               dbias: UnsafeMutablePointer<Float>, dpool: UnsafePointer<Float>,
                                               output: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                               weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                               accumulateWeight: Bool, accumulateBias: Bool) {
        var w = window.c
        dk_conv2d_relu_maxpool_backward(dinput, dweight, dbias, dpool, output, input, weight, Int32(outChannels), &w,
                                        accumulateWeight ? 1 : 0, accumulateBias ? 1 : 0)
    }
}
