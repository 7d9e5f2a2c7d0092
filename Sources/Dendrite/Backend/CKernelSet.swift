import CKernels

/// The OpenMP C kernels of `CKernels/`, vectorized for AVX2+FMA where the CPU has them: every concern.
public final class CKernelSet: KernelSet {
    public init() {}

    public static var openMPEnabled: Bool { dk_openmp_enabled() != 0 }
    public static var instructionSet: String { String(cString: dk_instruction_set()) }
    public var instructionSet: String { Self.instructionSet }

    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        dk_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k),
                 alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public func denseForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>, m: Int, n: Int, k: Int, activation: Activation,
                             epilogue: any ElementwiseKernels) {
        // The bias and activation are applied in the product's tile stores: `epilogue` is not needed.
        dk_sgemm_bias_activation(0, 0, Int32(m), Int32(n), Int32(k), 1, x, Int32(k), weight, Int32(n), 0, out,
                                 Int32(n), bias, activation.cKind, activation.alpha)
    }

    public func denseBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                    m: Int, n: Int, k: Int, activation: Activation,
                                    epilogue: any ElementwiseKernels) {
        dk_sgemm_activation_backward(0, 1, Int32(m), Int32(k), Int32(n), 1, dout, Int32(n), weight, Int32(n), 0,
                                     dinput, Int32(k), output, activation.cKind, activation.alpha)
    }

    public func biasAdd(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        rows: Int, cols: Int) {
        dk_bias_add(out, input, bias, Int32(rows), Int32(cols))
    }

    public func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, cols: Int,
                             accumulate: Bool) {
        dk_bias_backward(dbias, dout, Int32(rows), Int32(cols), accumulate ? 1 : 0)
    }

    public func activationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                                  activation: Activation) {
        dk_activation_forward(out, input, count, activation.cKind, activation.alpha)
    }

    public func biasActivationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                      bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation) {
        dk_bias_activation_forward(out, input, bias, Int32(rows), Int32(cols), activation.cKind, activation.alpha)
    }

    public func activationBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                   output: UnsafePointer<Float>, count: Int, activation: Activation) {
        dk_activation_backward(dinput, doutput, output, count, activation.cKind, activation.alpha)
    }

    public func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        dk_softmax_forward(out, input, Int32(rows), Int32(cols))
    }

    public func logSoftmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        dk_log_softmax_forward(out, input, Int32(rows), Int32(cols))
    }

    public func softmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                output: UnsafePointer<Float>, rows: Int, cols: Int) {
        dk_softmax_backward(dinput, doutput, output, Int32(rows), Int32(cols))
    }

    public func logSoftmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                   output: UnsafePointer<Float>, rows: Int, cols: Int) {
        dk_log_softmax_backward(dinput, doutput, output, Int32(rows), Int32(cols))
    }

    public func softmaxCrossEntropy(losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>?,
                                    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                    rows: Int, cols: Int, gradScale: Float) -> Double {
        dk_softmax_cross_entropy(losses, dlogits, logits, labels, Int32(rows), Int32(cols), gradScale)
    }

    public func argmaxRows(out: UnsafeMutablePointer<Int32>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        dk_argmax_rows(out, input, Int32(rows), Int32(cols))
    }

    public func adamStep(param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                         v: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count: Int,
                         lr: Float, beta1: Float, beta2: Float, eps: Float, step: Int) {
        dk_adam_step(param, m, v, grad, count, lr, beta1, beta2, eps, Int64(step))
    }

    public func sgdStep(param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?,
                        grad: UnsafePointer<Float>, count: Int, lr: Float, momentum: Float) {
        dk_sgd_step(param, velocity, grad, count, lr, momentum)
    }

    public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        dk_add_inplace(y, x, count)
    }

    public func scaleInPlace(_ y: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
        dk_scale_inplace(y, a, count)
    }

    public func sum(_ x: UnsafePointer<Float>, count: Int) -> Double { dk_sum(x, count) }
    public func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double { dk_sum_squares(x, count) }

    public func gatherRows(out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>,
                           indices: UnsafePointer<Int32>, rows: Int, cols: Int, scale: Float) {
        dk_gather_rows_u8(out, images, indices, Int32(rows), Int32(cols), scale)
    }

    public func prefetchRows(images: UnsafePointer<UInt8>, indices: UnsafePointer<Int32>, rows: Int, cols: Int) {
        dk_prefetch_rows_u8(images, indices, Int32(rows), Int32(cols))
    }
}

extension Activation {
    var cKind: dk_activation {
        switch self {
        case .identity: DK_ACT_IDENTITY
        case .relu: DK_ACT_RELU
        case .leakyReLU: DK_ACT_LEAKY_RELU
        case .sigmoid: DK_ACT_SIGMOID
        case .tanh: DK_ACT_TANH
        case .elu: DK_ACT_ELU
        case .selu: DK_ACT_SELU
        }
    }
}
