/// Which compilation of the pure-Swift kernels to run: the sources are built three times, as
/// `SwiftKernels` (baseline x86-64), `SwiftKernelsAVX2` (Haswell level: AVX2, FMA) and
/// `SwiftKernelsAVX512` (AVX-512 F/CD/BW/DQ/VL, with a GEMM tile twice as wide), since Swift has no
/// per-function target attribute to pick a code path at load time the way the C kernels do.
public enum SwiftKernelBuild: String, CaseIterable, Sendable {
    case portable, avx2, avx512

    /// The C kernels' code path that needs the same instructions (they share names).
    var codePath: CodePath { CodePath(rawValue: rawValue)! }

    /// The build with the instructions of the C kernels' `path`.
    public init(_ path: CodePath) { self.init(rawValue: path.rawValue)! }

    /// The builds this CPU can run, narrowest first.
    public static var supported: [SwiftKernelBuild] { allCases.filter(\.codePath.isSupported) }

    /// The widest build this CPU runs.
    public static var best: SwiftKernelBuild { supported.last ?? .portable }
}

/// The pure-Swift SIMD kernels of one build: the portable fallback, and the reference the C kernels race against.
final class SwiftKernelBackend<K: SwiftKernelSet>: KernelSet, @unchecked Sendable {
    var instructionSet: String { "Swift" }

    func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        K.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                      b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    func biasAdd(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        rows: Int, cols: Int) {
        K.biasAdd(out: out, input: input, bias: bias, rows: rows, cols: cols)
    }

    func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, cols: Int,
                             accumulate: Bool) {
        K.biasBackward(dbias: dbias, dout: dout, rows: rows, cols: cols, accumulate: accumulate)
    }

    func activationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                                  activation: Activation) {
        K.activationForward(out: out, input: input, count: count, kind: K.kind(activation),
                                  alpha: activation.alpha)
    }

    func biasActivationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                      bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation) {
        K.biasActivationForward(out: out, input: input, bias: bias, rows: rows, cols: cols,
                                      kind: K.kind(activation), alpha: activation.alpha)
    }

    func activationBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                   output: UnsafePointer<Float>, count: Int, activation: Activation) {
        K.activationBackward(dinput: dinput, doutput: doutput, output: output, count: count,
                                   kind: K.kind(activation), alpha: activation.alpha)
    }

    func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        K.softmaxForward(out: out, input: input, rows: rows, cols: cols)
    }

    func logSoftmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        K.logSoftmaxForward(out: out, input: input, rows: rows, cols: cols)
    }

    func softmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                output: UnsafePointer<Float>, rows: Int, cols: Int) {
        K.softmaxBackward(dinput: dinput, doutput: doutput, output: output, rows: rows, cols: cols)
    }

    func logSoftmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                   output: UnsafePointer<Float>, rows: Int, cols: Int) {
        K.logSoftmaxBackward(dinput: dinput, doutput: doutput, output: output, rows: rows, cols: cols)
    }

    func softmaxCrossEntropy(losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>?,
                                    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                    rows: Int, cols: Int, gradScale: Float) -> Double {
        K.softmaxCrossEntropy(losses: losses, dlogits: dlogits, logits: logits, labels: labels,
                                    rows: rows, cols: cols, gradScale: gradScale)
    }

    func argmaxRows(out: UnsafeMutablePointer<Int32>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        K.argmaxRows(out: out, input: input, rows: rows, cols: cols)
    }

    func adamStep(param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                         v: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count: Int,
                         lr: Float, beta1: Float, beta2: Float, eps: Float, step: Int) {
        K.adamStep(param: param, m: m, v: v, grad: grad, count: count,
                         lr: lr, beta1: beta1, beta2: beta2, eps: eps, step: step)
    }

    func sgdStep(param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?,
                        grad: UnsafePointer<Float>, count: Int, lr: Float, momentum: Float) {
        K.sgdStep(param: param, velocity: velocity, grad: grad, count: count, lr: lr, momentum: momentum)
    }

    func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        K.addInPlace(y, x, count: count)
    }

    func scaleInPlace(_ y: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
        K.scaleInPlace(y, by: a, count: count)
    }

    func sum(_ x: UnsafePointer<Float>, count: Int) -> Double { K.sum(x, count: count) }
    func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        K.sumOfSquares(x, count: count)
    }

    func gatherRows(out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>,
                           indices: UnsafePointer<Int32>, rows: Int, cols: Int, scale: Float) {
        K.gatherRows(out: out, images: images, indices: indices, rows: rows, cols: cols, scale: scale)
    }
}
