/// A set of CPU kernels: one method per kernel, on raw buffers, with the contracts documented in
/// `CKernels/include/CKernels.h` (row-major, outputs first, sizes explicit, no allocation).
///
/// Two implementations ship: ``CBackend`` (OpenMP C kernels) and ``SwiftBackend`` (pure Swift SIMD);
/// ``OpenBLASBackend`` borrows the system's OpenBLAS for matmul. Pick one by name with ``Backends/named(_:)``.
public protocol Backend: AnyObject, Sendable {
    /// The name users pass to `--backend` and `DENDRITE_BACKEND`.
    var name: String { get }
    /// The code path the kernels run, for reports ("avx2+fma", …).
    var instructionSet: String { get }
    /// Threads the kernels use; setting it changes every later call.
    var threads: Int { get set }

    /// C = alpha·op(A)·op(B) + beta·C, op(A) (M,K), op(B) (K,N), C (M,N); beta == 0 overwrites C.
    func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
               alpha: Float, a: UnsafePointer<Float>, lda: Int,
               b: UnsafePointer<Float>, ldb: Int,
               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)

    /// out (m,n) = f(x (m,k) · weight (k,n) + bias (n)), all contiguous: a dense layer's forward.
    /// ``CBackend`` runs it as one kernel (each thread finishes its own part of the product);
    /// the default is ``denseForwardUnfused(out:x:weight:bias:m:n:k:activation:)``.
    func denseForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      bias: UnsafePointer<Float>, m: Int, n: Int, k: Int, activation: Activation)

    /// dinput (m,k) = (dout (m,n) · weight (k,n)ᵀ) ⊙ f'(x), with f' taken from output = f(x) (m,k), all
    /// contiguous: a dense layer's input gradient carried back through the activation that produced
    /// its input. ``CBackend`` runs it as one kernel; the default is the product, then
    /// ``activationBackward(dinput:doutput:output:count:activation:)`` in place.
    func denseBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, output: UnsafePointer<Float>,
                             m: Int, n: Int, k: Int, activation: Activation)

    func biasAdd(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                 rows: Int, cols: Int)
    func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, cols: Int,
                      accumulate: Bool)

    func activationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                           activation: Activation)
    func biasActivationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation)
    /// dinput = doutput · f'(x), from the forward output alone.
    func activationBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                            output: UnsafePointer<Float>, count: Int, activation: Activation)

    func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int)
    func logSoftmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int)
    func softmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                         output: UnsafePointer<Float>, rows: Int, cols: Int)
    func logSoftmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                            output: UnsafePointer<Float>, rows: Int, cols: Int)
    /// Per-row losses, optional gradient (softmax − onehot)·gradScale, returns the mean loss.
    func softmaxCrossEntropy(losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>?,
                             logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                             rows: Int, cols: Int, gradScale: Float) -> Double
    func argmaxRows(out: UnsafeMutablePointer<Int32>, input: UnsafePointer<Float>, rows: Int, cols: Int)

    /// Adam in PyTorch's form; moments below the smallest normal float are stored as 0 (subnormals are slow).
    func adamStep(param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                  v: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count: Int,
                  lr: Float, beta1: Float, beta2: Float, eps: Float, step: Int)
    func sgdStep(param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?,
                 grad: UnsafePointer<Float>, count: Int, lr: Float, momentum: Float)

    func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int)
    func scaleInPlace(_ y: UnsafeMutablePointer<Float>, by a: Float, count: Int)
    func sum(_ x: UnsafePointer<Float>, count: Int) -> Double
    func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double

    /// out[r,:] = images[indices[r],:]·scale, bytes to floats.
    func gatherRows(out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>,
                    indices: UnsafePointer<Int32>, rows: Int, cols: Int, scale: Float)
}

extension Backend {
    public func denseForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>, m: Int, n: Int, k: Int, activation: Activation) {
        denseForwardUnfused(out: out, x: x, weight: weight, bias: bias, m: m, n: n, k: k, activation: activation)
    }

    public func denseBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                    m: Int, n: Int, k: Int, activation: Activation) {
        denseBackwardInputsUnfused(dinput: dinput, dout: dout, weight: weight, output: output, m: m, n: n, k: k,
                                   activation: activation)
    }

    /// `denseBackwardInputs` as two kernels: the product, then the activation's derivative in place.
    public func denseBackwardInputsUnfused(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                           weight: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                           m: Int, n: Int, k: Int, activation: Activation) {
        sgemm(transA: false, transB: true, m: m, n: k, k: n, alpha: 1, a: dout, lda: n, b: weight, ldb: n,
              beta: 0, c: dinput, ldc: k)
        activationBackward(dinput: dinput, doutput: dinput, output: output, count: m * k, activation: activation)
    }

    /// `denseForward` as two kernels: the product, then bias and activation in place.
    public func denseForwardUnfused(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                    m: Int, n: Int, k: Int, activation: Activation) {
        sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: x, lda: k, b: weight, ldb: n,
              beta: 0, c: out, ldc: n)
        if activation == .identity {
            biasAdd(out: out, input: out, bias: bias, rows: m, cols: n)
        } else {
            biasActivationForward(out: out, input: out, bias: bias, rows: m, cols: n, activation: activation)
        }
    }
}
