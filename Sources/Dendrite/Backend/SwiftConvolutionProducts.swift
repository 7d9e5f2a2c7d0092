import CKernels

// The Swift kernels' convolution products (Sources/SwiftKernels/ConvProducts.swift): read through the window
// or unfolded a chunk at a time, never into the caller's whole buffer, with the bits of the whole-buffer
// algorithm (UnfoldedConvolution) on the same kernels; or, for the windows the C backend computes by Winograd's
// F(4×4, 3×3), by the same algorithm (Sources/SwiftKernels/Winograd.swift), switched off with it
// (DENDRITE_WINOGRAD, dk_conv2d_set_winograd); and the fused backward of a ReLU convolution read by a 2×2 max
// pool (Sources/SwiftKernels/ConvReLUMaxPoolBackward.swift).
extension SwiftKernelBackend {
    func convolutionNeedsUnfoldedInput(_ window: ConvolutionWindow, outChannels: Int) -> Bool { false }

    func convolutionUsesWinograd(_ window: ConvolutionWindow, outChannels: Int, activation: Activation) -> Bool {
        dk_conv2d_winograd_allowed() != 0 && K.winogradApplies(window: window.swift(), outChannels: outChannels)
    }

    func convolutionForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                            weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
                            window: ConvolutionWindow, activation: Activation, unfolded: UnsafeMutablePointer<Float>?,
                            unfold: any ConvolutionKernels, epilogue: any ElementwiseKernels) {
        // The bias and activation come with the bits of the dense forward's pass after its product, applied
        // by the kernels' workers as they finish each part of the output.
        if convolutionUsesWinograd(window, outChannels: outChannels, activation: activation) {
            K.winogradForward(out: out, input: input, weight: weight, bias: bias, outChannels: outChannels,
                              window: window.swift(), activation: K.kind(activation), alpha: activation.alpha)
        } else {
            K.convolutionForward(out: out, input: input, weight: weight, bias: bias, outChannels: outChannels,
                                 window: window.swift(), activation: K.kind(activation), alpha: activation.alpha)
        }
    }

    func convolutionBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                    input: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                    accumulate: Bool, unfolded: UnsafePointer<Float>?) {
        if convolutionUsesWinograd(window, outChannels: outChannels, activation: .identity) {
            return K.winogradBackwardWeights(dweight: dweight, dout: dout, input: input, outChannels: outChannels,
                                             window: window.swift(), beta: accumulate ? 1 : 0)
        }
        K.convolutionBackwardWeights(dweight: dweight, dout: dout, input: input, outChannels: outChannels,
                                     window: window.swift(), beta: accumulate ? 1 : 0)
    }

    func convolutionBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                   unfolded: UnsafeMutablePointer<Float>?, unfold: any ConvolutionKernels) {
        if convolutionUsesWinograd(window, outChannels: outChannels, activation: .identity) {
            return K.winogradBackwardInputs(dinput: dinput, dout: dout, weight: weight, outChannels: outChannels,
                                            window: window.swift())
        }
        K.convolutionBackwardInputs(dinput: dinput, dout: dout, weight: weight, outChannels: outChannels,
                                    window: window.swift())
    }

    func convolutionReLUMaxPoolBackwardApplies(_ window: ConvolutionWindow, outChannels: Int) -> Bool {
        K.convolutionReLUMaxPoolBackwardApplies(window: window.swift(), outChannels: outChannels)
    }

    func convolutionReLUMaxPoolBackward(dinput: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                        dbias: UnsafeMutablePointer<Float>, dpool: UnsafePointer<Float>,
                                        output: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                        accumulateWeight: Bool, accumulateBias: Bool) {
        K.convolutionReLUMaxPoolBackward(dinput: dinput, dweight: dweight, dbias: dbias, dpool: dpool, output: output,
                                         input: input, weight: weight, outChannels: outChannels, window: window.swift(),
                                         accumulateWeight: accumulateWeight, accumulateBias: accumulateBias)
    }
}
