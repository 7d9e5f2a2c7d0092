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
    /// layer's 65536-element update uses both workers, 104 -> 54-70 µs in training).
    private static var optimizerGrain: Int { 1 << 14 }

    /// One Adam step (bias-corrected moments, eps added after the square root), step t ≥ 1:
    ///   m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g·g;
    ///   p −= lr · (m / (1 − b1^t)) / (sqrt(v / (1 − b2^t)) + eps)
    public static func adamStep(param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                                v: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count: Int,
                                lr: Float, beta1: Float, beta2: Float, eps: Float, step: Int) {
        // The corrections in Double: b^t for large t would lose digits in Float.
        let c1 = Float(1 - pow(Double(beta1), Double(step)))
        let c2 = Float(1 - pow(Double(beta2), Double(step)))
        let g1 = 1 - beta1, g2 = 1 - beta2
        parallelRanges(count: count, grain: optimizerGrain,
                       AdamStep(param: param, m: m, v: v, grad: grad, lr: lr, beta1: beta1, beta2: beta2, eps: eps,
                                c1: c1, c2: c2, g1: g1, g2: g2))
    }

    /// Moments below the smallest normal float are stored as 0, as in the C kernel: a moment whose
    /// gradient went to zero decays through the subnormal range for hundreds of steps, and subnormal
    /// arithmetic is slow on x86 (C's Adam ran 2x slower by epoch 5). The update such a moment
    /// would make is below 1e-30 (lr · FLT_MIN / eps), far under a weight's rounding.
    @inline(__always)
    private static func flushedToZero(_ x: Vec) -> Vec {
        let tiny = Vec(repeating: Float.leastNormalMagnitude)
        return x.replacing(with: 0, where: (x .< tiny) .& (x .> -tiny))
    }

    @inline(__always)
    private static func flushedToZero(_ x: Float) -> Float { Swift.abs(x) < Float.leastNormalMagnitude ? 0 : x }

    private struct AdamStep: RangeWork {
        let param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
        let grad: UnsafePointer<Float>
        let lr: Float, beta1: Float, beta2: Float, eps: Float, c1: Float, c2: Float, g1: Float, g2: Float

        func run(_ range: Range<Int>) {
            // Blocks of 64: the moments pass, then the square roots as a scalar loop of their own
            // (Float.squareRoot() keeps a libm fallback call for negative inputs, which would
            // force every live vector register to spill inside a mixed loop), then the update.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { scratch in
                let root = scratch.baseAddress!
                var i = range.lowerBound
                while i < range.upperBound {
                    let n = min(64, range.upperBound - i)
                    let g0 = grad + i, m0 = m + i, v0 = v + i, p0 = param + i
                    var j = 0
                    while j + 8 <= n {
                        let g = load(g0 + j)
                        let mj = SwiftKernels.flushedToZero(beta1 * load(m0 + j) + g1 * g)
                        let vj = SwiftKernels.flushedToZero(beta2 * load(v0 + j) + g2 * g * g)
                        store(m0 + j, mj)
                        store(v0 + j, vj)
                        store(root + j, vj / c2)
                        j += 8
                    }
                    while j < n {
                        let g = g0[j]
                        m0[j] = SwiftKernels.flushedToZero(beta1 * m0[j] + g1 * g)
                        v0[j] = SwiftKernels.flushedToZero(beta2 * v0[j] + g2 * g * g)
                        root[j] = v0[j] / c2
                        j += 1
                    }
                    for j in 0..<n { root[j] = root[j].squareRoot() }
                    j = 0
                    while j + 8 <= n {
                        store(p0 + j, load(p0 + j) - lr * (load(m0 + j) / c1) / (load(root + j) + eps))
                        j += 8
                    }
                    while j < n {
                        p0[j] = p0[j] - lr * (m0[j] / c1) / (root[j] + eps)
                        j += 1
                    }
                    i += n
                }
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
