import CKernels

// The C kernels' convolution, pooling and dropout entries (CKernels/conv.c, pool.c, dropout.c).
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

    public func avgPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_avgpool_forward(out, input, &w)
    }

    public func avgPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, window: ConvolutionWindow) {
        var w = window.c
        dk_avgpool_backward(dinput, dout, &w)
    }

    public func dropout(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, rate: Float,
                        key: UInt64) {
        dk_dropout(out, input, count, rate, key)
    }
}
