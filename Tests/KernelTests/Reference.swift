// Naive reference implementations, accumulating in Double, written for clarity rather than speed
// (they walk raw pointers only because array subscripts are very slow in debug builds).
// Each mirrors a contract of CKernels/include/CKernels.h.

import Dendrite
import Foundation

enum Reference {
    // MARK: - Matmul

    /// alpha·op(A)·op(B) + beta·C over the whole (m, ldc) buffer of C; columns past n keep C's
    /// values. Also returns, per element, the tolerance
    ///   relTol·(|alpha|·Σ_k |a_ik b_kj| + |beta|·|c_ij|) + absTol
    /// (padding elements: tolerance 0, they must be untouched).
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, a: [Float], lda: Int, b: [Float], ldb: Int,
                      beta: Float, c: [Float], ldc: Int,
                      relTol: Double = 1e-5, absTol: Double = 1e-6) -> (values: [Double], tolerance: [Double]) {
        var values = c.doubles
        var tolerance = [Double](repeating: 0, count: c.count)
        let alphaD = Double(alpha), betaD = Double(beta)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                let A = ap.baseAddress!, B = bp.baseAddress!
                // op(A)(i, p) and op(B)(p, j) as (row stride, column stride).
                let (ars, acs) = transA ? (1, lda) : (lda, 1)
                let (brs, bcs) = transB ? (1, ldb) : (ldb, 1)
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0, sAbs = 0.0
                        for p in 0..<k {
                            let prod = Double(A[i * ars + p * acs]) * Double(B[p * brs + j * bcs])
                            s += prod
                            sAbs += abs(prod)
                        }
                        let idx = i * ldc + j
                        let old = Double(c[idx])
                        // beta == 0 means C is not read (it may hold NaN).
                        values[idx] = beta == 0 ? alphaD * s : alphaD * s + betaD * old
                        tolerance[idx] = relTol * (abs(alphaD) * sAbs + (beta == 0 ? 0 : abs(betaD * old))) + absTol
                    }
                }
            }
        }
        return (values, tolerance)
    }

    // MARK: - Bias

    /// Column sums of a (rows, cols) buffer, plus Σ|x| per column for tolerances.
    static func columnSums(_ d: [Float], rows: Int, cols: Int) -> (sums: [Double], absSums: [Double]) {
        var sums = [Double](repeating: 0, count: cols), absSums = sums
        for r in 0..<rows {
            for c in 0..<cols {
                sums[c] += Double(d[r * cols + c])
                absSums[c] += abs(Double(d[r * cols + c]))
            }
        }
        return (sums, absSums)
    }

    // MARK: - Activations

    static let seluAlpha = 1.6732632423543772
    static let seluScale = 1.0507009873554805

    /// f(x) in Double; alpha is the Float parameter the kernel receives.
    static func activation(_ x: Double, _ act: Activation) -> Double {
        let alpha = Double(act.alpha)
        switch act {
        case .identity: return x
        case .relu: return max(0, x)
        case .leakyReLU: return x < 0 ? alpha * x : x
        case .sigmoid: return 1 / (1 + exp(-x))
        case .tanh: return Foundation.tanh(x)
        case .elu: return x > 0 ? x : alpha * expm1(x)
        case .selu: return seluScale * (x > 0 ? x : seluAlpha * expm1(x))
        }
    }

    /// f'(x) in Double, analytically (x away from kinks).
    static func activationDerivative(_ x: Double, _ act: Activation) -> Double {
        let alpha = Double(act.alpha)
        switch act {
        case .identity: return 1
        case .relu: return x > 0 ? 1 : 0
        case .leakyReLU: return x > 0 ? 1 : alpha
        case .sigmoid:
            let s = 1 / (1 + exp(-x))
            return s * (1 - s)
        case .tanh:
            let t = Foundation.tanh(x)
            return 1 - t * t
        case .elu: return x > 0 ? 1 : alpha * exp(x)
        case .selu: return seluScale * (x > 0 ? 1 : seluAlpha * exp(x))
        }
    }

    /// Central finite difference of the Double reference forward function.
    static func activationFiniteDifference(_ x: Double, _ act: Activation, h: Double = 1e-6) -> Double {
        (activation(x + h, act) - activation(x - h, act)) / (2 * h)
    }

    // MARK: - Softmax family

    static func softmax(_ x: [Double]) -> [Double] {
        let m = x.max() ?? 0
        let e = x.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    static func logSumExp(_ x: [Double]) -> Double {
        let m = x.max() ?? 0
        return m + log(x.reduce(0) { $0 + exp($1 - m) })
    }

    static func logSoftmax(_ x: [Double]) -> [Double] {
        let lse = logSumExp(x)
        return x.map { $0 - lse }
    }

    /// Applies a row function to every row of a (rows, cols) buffer.
    static func rowwise(_ x: [Float], rows: Int, cols: Int, _ f: ([Double]) -> [Double]) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(rows * cols)
        for r in 0..<rows { out += f(x[r * cols..<(r + 1) * cols].map(Double.init)) }
        return out
    }

    /// softmax backward from the output: y·(g − Σ g·y), per row.
    static func softmaxBackward(dout: [Float], out: [Float], rows: Int, cols: Int) -> [Double] {
        var d = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            var dot = 0.0
            for c in 0..<cols { dot += Double(dout[r * cols + c]) * Double(out[r * cols + c]) }
            for c in 0..<cols { d[r * cols + c] = Double(out[r * cols + c]) * (Double(dout[r * cols + c]) - dot) }
        }
        return d
    }

    /// log-softmax backward from the output: g − exp(y)·Σ g, per row.
    static func logSoftmaxBackward(dout: [Float], out: [Float], rows: Int, cols: Int) -> [Double] {
        var d = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            var s = 0.0
            for c in 0..<cols { s += Double(dout[r * cols + c]) }
            for c in 0..<cols { d[r * cols + c] = Double(dout[r * cols + c]) - exp(Double(out[r * cols + c])) * s }
        }
        return d
    }

    /// Per-row losses logsumexp(x) − x[label], their mean, and (softmax − onehot)·scale.
    static func softmaxCrossEntropy(logits: [Float], labels: [Int32], rows: Int, cols: Int,
                                    gradScale: Float) -> (losses: [Double], mean: Double, grad: [Double]) {
        var losses = [Double](repeating: 0, count: rows)
        var grad = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            let x = logits[r * cols..<(r + 1) * cols].map(Double.init)
            let label = Int(labels[r])
            losses[r] = logSumExp(x) - x[label]
            let p = softmax(x)
            for c in 0..<cols {
                grad[r * cols + c] = (p[c] - (c == label ? 1 : 0)) * Double(gradScale)
            }
        }
        return (losses, losses.reduce(0, +) / Double(max(rows, 1)), grad)
    }

    /// Index of the first largest value of each row.
    static func argmaxRows(_ x: [Float], rows: Int, cols: Int) -> [Int32] {
        (0..<rows).map { r in
            var best = 0
            for c in 1..<cols where x[r * cols + c] > x[r * cols + best] { best = c }
            return Int32(best)
        }
    }

    // MARK: - Optimizers

    /// Adam in PyTorch's form, in Double, from Float state; returns (param, m, v).
    static func adamStep(param: [Float], m: [Float], v: [Float], grad: [Float], lr: Float, beta1: Float,
                         beta2: Float, eps: Float, step: Int) -> (param: [Double], m: [Double], v: [Double]) {
        let b1 = Double(beta1), b2 = Double(beta2), t = Double(step)
        var p = param.doubles, mo = m.doubles, vo = v.doubles
        for i in 0..<param.count {
            let g = Double(grad[i])
            mo[i] = b1 * mo[i] + (1 - b1) * g
            vo[i] = b2 * vo[i] + (1 - b2) * g * g
            let mHat = mo[i] / (1 - pow(b1, t)), vHat = vo[i] / (1 - pow(b2, t))
            p[i] -= Double(lr) * mHat / (vHat.squareRoot() + Double(eps))
        }
        return (p, mo, vo)
    }

    // MARK: - Reductions

    static func sum(_ x: [Float]) -> (sum: Double, absSum: Double) {
        var s = 0.0, a = 0.0
        x.withUnsafeBufferPointer { p in
            for v in p {
                s += Double(v)
                a += abs(Double(v))
            }
        }
        return (s, a)
    }

    static func sumOfSquares(_ x: [Float]) -> Double {
        var s = 0.0
        x.withUnsafeBufferPointer { p in
            for v in p { s += Double(v) * Double(v) }
        }
        return s
    }
}
