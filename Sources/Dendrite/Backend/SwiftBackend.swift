import SwiftKernels

/// The pure-Swift SIMD kernels: the portable fallback, and the reference the C kernels race against.
public final class SwiftBackend: Backend, @unchecked Sendable {
    public let name = "swift"
    public init() {}

    public var threads: Int {
        get { SwiftKernels.threads }
        set { SwiftKernels.threads = Swift.max(1, newValue) }
    }

    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        SwiftKernels.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    public func biasAdd(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        rows: Int, cols: Int) {
        SwiftKernels.biasAdd(out: out, input: input, bias: bias, rows: rows, cols: cols)
    }

    public func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, cols: Int,
                             accumulate: Bool) {
        SwiftKernels.biasBackward(dbias: dbias, dout: dout, rows: rows, cols: cols, accumulate: accumulate)
    }

    public func activationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                                  activation: Activation) {
        SwiftKernels.activationForward(out: out, input: input, count: count,
                                       kind: activation.swiftKind, alpha: activation.alpha)
    }

    public func biasActivationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                      bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation) {
        SwiftKernels.biasActivationForward(out: out, input: input, bias: bias, rows: rows, cols: cols,
                                           kind: activation.swiftKind, alpha: activation.alpha)
    }

    public func activationBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                   output: UnsafePointer<Float>, count: Int, activation: Activation) {
        SwiftKernels.activationBackward(dinput: dinput, doutput: doutput, output: output, count: count,
                                        kind: activation.swiftKind, alpha: activation.alpha)
    }

    public func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        SwiftKernels.softmaxForward(out: out, input: input, rows: rows, cols: cols)
    }

    public func logSoftmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        SwiftKernels.logSoftmaxForward(out: out, input: input, rows: rows, cols: cols)
    }

    public func softmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                output: UnsafePointer<Float>, rows: Int, cols: Int) {
        SwiftKernels.softmaxBackward(dinput: dinput, doutput: doutput, output: output, rows: rows, cols: cols)
    }

    public func logSoftmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                   output: UnsafePointer<Float>, rows: Int, cols: Int) {
        SwiftKernels.logSoftmaxBackward(dinput: dinput, doutput: doutput, output: output, rows: rows, cols: cols)
    }

    public func softmaxCrossEntropy(losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>?,
                                    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                    rows: Int, cols: Int, gradScale: Float) -> Double {
        SwiftKernels.softmaxCrossEntropy(losses: losses, dlogits: dlogits, logits: logits, labels: labels,
                                         rows: rows, cols: cols, gradScale: gradScale)
    }

    public func argmaxRows(out: UnsafeMutablePointer<Int32>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        SwiftKernels.argmaxRows(out: out, input: input, rows: rows, cols: cols)
    }

    public func adamStep(param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                         v: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count: Int,
                         lr: Float, beta1: Float, beta2: Float, eps: Float, step: Int) {
        SwiftKernels.adamStep(param: param, m: m, v: v, grad: grad, count: count,
                              lr: lr, beta1: beta1, beta2: beta2, eps: eps, step: step)
    }

    public func sgdStep(param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?,
                        grad: UnsafePointer<Float>, count: Int, lr: Float, momentum: Float) {
        SwiftKernels.sgdStep(param: param, velocity: velocity, grad: grad, count: count, lr: lr, momentum: momentum)
    }

    public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        SwiftKernels.addInPlace(y, x, count: count)
    }

    public func scaleInPlace(_ y: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
        SwiftKernels.scaleInPlace(y, by: a, count: count)
    }

    public func sum(_ x: UnsafePointer<Float>, count: Int) -> Double { SwiftKernels.sum(x, count: count) }
    public func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        SwiftKernels.sumOfSquares(x, count: count)
    }

    public func gatherRows(out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>,
                           indices: UnsafePointer<Int32>, rows: Int, cols: Int, scale: Float) {
        SwiftKernels.gatherRows(out: out, images: images, indices: indices, rows: rows, cols: cols, scale: scale)
    }
}

extension Activation {
    var swiftKind: SwiftKernels.ActivationKind {
        switch self {
        case .identity: .identity
        case .relu: .relu
        case .leakyReLU: .leakyReLU
        case .sigmoid: .sigmoid
        case .tanh: .tanh
        case .elu: .elu
        case .selu: .selu
        }
    }
}
