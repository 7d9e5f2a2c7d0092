// The Swift kernels' convolution products (Sources/SwiftKernels/ConvProducts.swift): read through the window
// or unfolded a chunk at a time, never into the caller's whole buffer, with the bits of the whole-buffer
// algorithm (UnfoldedConvolution) on the same kernels.
extension SwiftKernelBackend {
    func convolutionNeedsUnfoldedInput(_ window: ConvolutionWindow, outChannels: Int) -> Bool { false }

    func convolutionForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                            weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
                            window: ConvolutionWindow, activation: Activation, unfolded: UnsafeMutablePointer<Float>?,
                            unfold: any ConvolutionKernels, epilogue: any ElementwiseKernels) {
        K.convolutionForward(out: out, input: input, weight: weight, outChannels: outChannels, window: window.swift())
        // The bias and activation as the dense forward applies them after its product (same bits).
        let pixels = window.pixels
        if activation == .identity {
            epilogue.biasAdd(out: out, input: out, bias: bias, rows: pixels, cols: outChannels)
        } else {
            epilogue.biasActivationForward(out: out, input: out, bias: bias, rows: pixels, cols: outChannels,
                                           activation: activation)
        }
    }

    func convolutionBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                    input: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                    accumulate: Bool, unfolded: UnsafePointer<Float>?) {
        K.convolutionBackwardWeights(dweight: dweight, dout: dout, input: input, outChannels: outChannels,
                                     window: window.swift(), beta: accumulate ? 1 : 0)
    }

    func convolutionBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                   unfolded: UnsafeMutablePointer<Float>?, unfold: any ConvolutionKernels) {
        K.convolutionBackwardInputs(dinput: dinput, dout: dout, weight: weight, outChannels: outChannels,
                                    window: window.swift())
    }
}
