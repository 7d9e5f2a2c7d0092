/// Matrix products, and the dense layer's products with their epilogues fused in.
///
/// The fused entries belong to this concern, not to the elementwise one, so a backend that brings only
/// its own GEMM (a CBLAS library) keeps it for the dense layers too: the defaults below run `self`'s
/// `sgemm` and then `epilogue`'s elementwise kernels. Kernels that can apply the epilogue inside the
/// product (the C kernels) implement the fused entries themselves.
public protocol GEMMKernels: AnyObject, Sendable {
    /// The code path the products run, for reports ("avx2+fma", "OpenBLAS", …).
    var instructionSet: String { get }

    /// C = alpha·op(A)·op(B) + beta·C, op(A) (M,K), op(B) (K,N), C (M,N); beta == 0 overwrites C.
    func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
               alpha: Float, a: UnsafePointer<Float>, lda: Int,
               b: UnsafePointer<Float>, ldb: Int,
               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)

    /// out (m,n) = f(x (m,k) · weight (k,n) + bias (n)), all contiguous: a dense layer's forward.
    func denseForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      bias: UnsafePointer<Float>, m: Int, n: Int, k: Int, activation: Activation,
                      epilogue: any ElementwiseKernels)

    /// dinput (m,k) = (dout (m,n) · weight (k,n)ᵀ) ⊙ f'(x), with f' taken from output = f(x) (m,k), all
    /// contiguous: a dense layer's input gradient carried back through the activation that produced its input.
    func denseBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, output: UnsafePointer<Float>,
                             m: Int, n: Int, k: Int, activation: Activation, epilogue: any ElementwiseKernels)

    /// Whether the convolution products below need the caller's `unfolded` buffer (`window.pixels` ×
    /// `window.fieldSize` floats, for im2col(input)) for this window and filter count. Kernels that unfold a
    /// chunk at a time (implicit GEMM) need none; the defaults do.
    func convolutionNeedsUnfoldedInput(_ window: ConvolutionWindow, outChannels: Int) -> Bool

    /// Whether the convolution products below compute this window by Winograd's minimal filtering (fewer
    /// multiplications than the products they stand for, other bits): the forward with `activation`, or, for
    /// `.identity`, also the backward passes. The profiler names those rows `conv2d.winograd.*`.
    func convolutionUsesWinograd(_ window: ConvolutionWindow, outChannels: Int, activation: Activation) -> Bool

    /// out (pixels, outChannels) = f(im2col(input) · weight + bias): a convolution's forward. `unfolded` is kept
    /// for the weight gradient, which receives it again.
    func convolutionForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                            bias: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                            activation: Activation, unfolded: UnsafeMutablePointer<Float>?,
                            unfold: any ConvolutionKernels, epilogue: any ElementwiseKernels)

    /// dweight (fieldSize, outChannels) = im2col(input)ᵀ · dout (+ dweight when `accumulate`); `unfolded` as the
    /// forward left it.
    func convolutionBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                    input: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                    accumulate: Bool, unfolded: UnsafePointer<Float>?)

    /// dinput = col2im(dout · weightᵀ) (overwritten); `unfolded` may be overwritten.
    func convolutionBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                   unfolded: UnsafeMutablePointer<Float>?, unfold: any ConvolutionKernels)

    /// Whether ``convolutionReLUMaxPoolBackward(dinput:dweight:dbias:dpool:output:input:weight:outChannels:window:accumulateWeight:accumulateBias:)``
    /// takes this convolution window (the defaults take none).
    func convolutionReLUMaxPoolBackwardApplies(_ window: ConvolutionWindow, outChannels: Int) -> Bool

    /// The gradients of a ReLU convolution whose `output` (pixels, outChannels) only a 2×2 max pool of stride 2
    /// without padding reads, from that pool's output gradient `dpool`: the sparse gradient the pool would hand
    /// the convolution is never written (`dk_conv2d_relu_maxpool_backward`). `dinput` is overwritten, or not
    /// computed when nil. Sums in its own order, the same for any thread count.
    func convolutionReLUMaxPoolBackward(dinput: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                        dbias: UnsafeMutablePointer<Float>, dpool: UnsafePointer<Float>,
                                        output: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, outChannels: Int, window: ConvolutionWindow,
                                        accumulateWeight: Bool, accumulateBias: Bool)
}

extension GEMMKernels {
    /// The product, then bias and activation in place.
    public func denseForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>, m: Int, n: Int, k: Int, activation: Activation,
                             epilogue: any ElementwiseKernels) {
        sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: x, lda: k, b: weight, ldb: n,
              beta: 0, c: out, ldc: n)
        if activation == .identity {
            epilogue.biasAdd(out: out, input: out, bias: bias, rows: m, cols: n)
        } else {
            epilogue.biasActivationForward(out: out, input: out, bias: bias, rows: m, cols: n, activation: activation)
        }
    }

    /// The product, then the activation's derivative in place.
    public func denseBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                    m: Int, n: Int, k: Int, activation: Activation, epilogue: any ElementwiseKernels) {
        sgemm(transA: false, transB: true, m: m, n: k, k: n, alpha: 1, a: dout, lda: n, b: weight, ldb: n,
              beta: 0, c: dinput, ldc: k)
        epilogue.activationBackward(dinput: dinput, doutput: dinput, output: output, count: m * k,
                                    activation: activation)
    }
}
