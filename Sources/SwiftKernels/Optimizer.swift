// Optimizer steps in PyTorch's form, elementwise over flat parameter buffers.
//
// Elementwise IEEE arithmetic only (the same operations in vector lanes and scalar tails), so the
// split of the buffer across vectors and workers cannot change a result.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension SwiftKernels {
    /// Elements per worker below which threading costs more than it saves (as in C: the 256×256
    /// layer's 65536-element update uses both workers).
    private static var optimizerGrain: Int { 1 << 14 }

    /// One Adam step (bias-corrected moments, eps added after the square root), step t ≥ 1:
    ///   m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g·g;
    ///   p −= lr · (m / (1 − b1^t)) / (sqrt(v / (1 − b2^t)) + eps)
    public static func adamStep(param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                                v: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count: Int,
                                lr: Float, beta1: Float, beta2: Float, eps: Float, step: Int) {
        // The corrections in Double (b^t for large t would lose digits in Float), folded into a step
        // size and a factor so that the loop divides once per element: divisions bound its speed.
        let t = Double(step)
        let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
        let vScale = Float(1 / (1 - pow(Double(beta2), t)))
        let g1 = 1 - beta1, g2 = 1 - beta2
        parallelRanges(count: count, grain: optimizerGrain,
                       AdamStep(param: param, m: m, v: v, grad: grad, beta1: beta1, beta2: beta2, eps: eps,
                                stepSize: stepSize, vScale: vScale, g1: g1, g2: g2))
    }

    /// Moments below the smallest normal float are stored as 0, as in the C kernel: a moment whose
    /// gradient went to zero decays through the subnormal range for hundreds of steps, and subnormal
    /// arithmetic is slow on x86. The update such a moment would make is below 1e-30
    /// (lr · FLT_MIN / eps), far under a weight's rounding.
    @inline(__always)
    private static func flushedToZero(_ x: Vec) -> Vec {
        let tiny = Vec(repeating: Float.leastNormalMagnitude)
        return x.replacing(with: 0, where: (x .< tiny) .& (x .> -tiny))
    }

    private struct AdamStep: RangeWork {
        let param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
        let grad: UnsafePointer<Float>
        let beta1: Float, beta2: Float, eps: Float, stepSize: Float, vScale: Float, g1: Float, g2: Float

        func run(_ range: Range<Int>) {
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                step(at: i, load(grad + i), load(m + i), load(v + i), load(param + i), lanes: 8)
                i += 8
            }
            // The tail through the same vector code (its square root is not Float's), so an element's
            // result does not depend on where a worker's range ends.
            let n = range.upperBound - i
            if n > 0 {
                step(at: i, loadPartial(grad + i, n), loadPartial(m + i, n), loadPartial(v + i, n),
                     loadPartial(param + i, n), lanes: n)
            }
        }

        @inline(__always)
        private func step(at i: Int, _ g: Vec, _ m0: Vec, _ v0: Vec, _ p0: Vec, lanes: Int) {
            let mi = SwiftKernels.flushedToZero(mulAdd(Vec(repeating: beta1), m0, g1 * g))
            let vi = SwiftKernels.flushedToZero(mulAdd(Vec(repeating: beta2), v0, g2 * g * g))
            let pi = p0 - stepSize * mi / (squareRoot(nonNegative: vi * vScale) + eps)
            if lanes == 8 {
                store(m + i, mi)
                store(v + i, vi)
                store(param + i, pi)
            } else {
                storePartial(m + i, mi, lanes)
                storePartial(v + i, vi, lanes)
                storePartial(param + i, pi, lanes)
            }
        }
    }

    /// One SGD step: with momentum > 0, velocity = momentum·velocity + g and p −= lr·velocity;
    /// with momentum == 0 (velocity may be nil), p −= lr·g.
    public static func sgdStep(param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?,
                               grad: UnsafePointer<Float>, count: Int, lr: Float, momentum: Float) {
        parallelRanges(count: count, grain: optimizerGrain,
                       SGDStep(param: param, velocity: velocity, grad: grad, lr: lr, momentum: momentum))
    }

    private struct SGDStep: RangeWork {
        let param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?, grad: UnsafePointer<Float>
        let lr: Float, momentum: Float

        func run(_ range: Range<Int>) {
            var i = range.lowerBound
            if momentum != 0, let vel = velocity {
                while i + 8 <= range.upperBound {
                    let u = momentum * load(vel + i) + load(grad + i)
                    store(vel + i, u)
                    store(param + i, load(param + i) - lr * u)
                    i += 8
                }
                while i < range.upperBound {
                    let u = momentum * vel[i] + grad[i]
                    vel[i] = u
                    param[i] = param[i] - lr * u
                    i += 1
                }
            } else {
                while i + 8 <= range.upperBound {
                    store(param + i, load(param + i) - lr * load(grad + i))
                    i += 8
                }
                while i < range.upperBound {
                    param[i] = param[i] - lr * grad[i]
                    i += 1
                }
            }
        }
    }
}
