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
