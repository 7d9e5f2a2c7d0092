// matmul: out (M,N) = a (M,K) · b (K,N). Backward: da = dout·bᵀ, db = aᵀ·dout.

extension Tape {
    /// Matrix product of two matrices (a tensor of higher rank is viewed as rows × columns).
    public func matmul(_ a: Variable, _ b: Variable) -> Variable {
        let m = a.value.shape.rows, k = a.value.shape.cols, n = b.value.shape.cols
        precondition(b.value.shape.rows == k,
                     "matmul: inner dimensions differ: a is \(a.value.shape), b is \(b.value.shape)")
        let out = output(Shape(m, n), requiresGrad: tracksGradient(a, b))
        let c = out.value.mutablePointer
        profiled(profiler, "matmul.forward", .forward, m: m, n: n, k: k, flops: 2 * Double(m * n * k)) {
            backend.gemm.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a.value.pointer, lda: k,
                               b: b.value.pointer, ldb: n, beta: 0, c: c, ldc: n)
        }
        if out.requiresGrad {
            let op = makeOp(MatmulOp.self)
            (op.a, op.b, op.out) = (a, b, out)
            record(op)
        }
        return out
    }

    /// db = aᵀ·dout.
    func backwardMatmulB(a: Variable, b: Variable, dout: UnsafePointer<Float>) {
        let m = a.value.shape.rows, k = a.value.shape.cols, n = b.value.shape.cols
        if b.requiresGrad {
            let accumulate = b.hasGradient
            let db = b.gradientBuffer()
            profiled(profiler, "matmul.backward.weights", .backward, m: k, n: n, k: m, flops: 2 * Double(m * n * k)) {
                backend.gemm.sgemm(transA: true, transB: false, m: k, n: n, k: m, alpha: 1, a: a.value.pointer, lda: k,
                                   b: dout, ldb: n, beta: accumulate ? 1 : 0, c: db, ldc: n)
            }
            b.hasGradient = true
        }
    }

    /// da = dout·bᵀ.
    func backwardMatmulA(a: Variable, b: Variable, dout: UnsafePointer<Float>) {
        let m = a.value.shape.rows, k = a.value.shape.cols, n = b.value.shape.cols
        if a.requiresGrad {
            let accumulate = a.hasGradient
            let da = a.gradientBuffer()
            profiled(profiler, "matmul.backward.inputs", .backward, m: m, n: k, k: n, flops: 2 * Double(m * n * k)) {
                backend.gemm.sgemm(transA: false, transB: true, m: m, n: k, k: n, alpha: 1, a: dout, lda: n,
                                   b: b.value.pointer, ldb: n, beta: accumulate ? 1 : 0, c: da, ldc: k)
            }
            a.hasGradient = true
        }
    }
}

final class MatmulOp: TapeOp {
    var a: Variable!, b: Variable!, out: Variable!

    var output: Variable { out }
    var diagnosticName: String { "matmul.forward (\(b.name))" }
    func forEachInput(_ body: (Variable) -> Void) { body(a); body(b) }

    func backward(on tape: Tape) {
        guard out.hasGradient else { return }
        let dout = UnsafePointer(out.grad!.mutablePointer)
        tape.backwardMatmulB(a: a, b: b, dout: dout)
        tape.backwardMatmulA(a: a, b: b, dout: dout)
    }
}
