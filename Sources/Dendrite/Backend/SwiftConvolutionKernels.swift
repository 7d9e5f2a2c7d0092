// The Swift kernels' convolution, pooling, dropout and batch-norm entries (Sources/SwiftKernels/Conv.swift,
// Pool.swift, Dropout.swift, BatchNorm.swift), for either build.
extension SwiftKernelBackend {
    func im2col(col: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow) {
        K.im2col(col: col, input: input, window: window.swift())
    }

    func col2im(dinput: UnsafeMutablePointer<Float>, dcol: UnsafePointer<Float>, window: ConvolutionWindow) {
        K.col2im(dinput: dinput, dcol: dcol, window: window.swift())
    }

    func maxPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow) {
        K.maxPoolForward(out: out, input: input, window: window.swift())
    }

    func maxPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                         window: ConvolutionWindow) {
        K.maxPoolBackward(dinput: dinput, dout: dout, input: input, window: window.swift())
    }

    func maxPoolReLUBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                             window: ConvolutionWindow) {
        K.maxPoolReLUBackward(dinput: dinput, dout: dout, input: input, window: window.swift())
    }

    func avgPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow) {
        K.avgPoolForward(out: out, input: input, window: window.swift())
    }

    func avgPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, window: ConvolutionWindow) {
        K.avgPoolBackward(dinput: dinput, dout: dout, window: window.swift())
    }

    func dropout(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, rate: Float, key: UInt64,
                 first: Int) {
        K.dropout(out: out, input: input, count: count, rate: rate, key: key, first: first)
    }

    func batchNormStatistics(mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                             input: UnsafePointer<Float>, rows: Int, channels: Int) {
        K.batchNormStatistics(mean: mean, variance: variance, input: input, rows: rows, channels: channels)
    }

    func batchNormForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                          invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                          rows: Int, channels: Int) {
        K.batchNormForward(out: out, input: input, mean: mean, invstd: invstd, gamma: gamma, beta: beta, rows: rows,
                           channels: channels)
    }

    func batchNormBackward(dinput: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                           dbeta: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                           mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                           rows: Int, channels: Int) {
        K.batchNormBackward(dinput: dinput, dgamma: dgamma, dbeta: dbeta, dout: dout, input: input, mean: mean,
                            invstd: invstd, gamma: gamma, rows: rows, channels: channels)
    }
}

extension ConvolutionWindow {
    func swift<W: KernelWindow>() -> W {
        W(batch: batch, height: height, width: width, channels: channels, kernelH: kernelHeight,
               kernelW: kernelWidth, strideH: strideHeight, strideW: strideWidth, padTop: padTop, padLeft: padLeft,
               outH: outputHeight, outW: outputWidth)
    }
}

/// The window type of a build of the Swift kernels (`SwiftKernels.Window` in each module).
protocol KernelWindow {
    init(batch: Int, height: Int, width: Int, channels: Int, kernelH: Int, kernelW: Int,
         strideH: Int, strideW: Int, padTop: Int, padLeft: Int, outH: Int, outW: Int)
}
