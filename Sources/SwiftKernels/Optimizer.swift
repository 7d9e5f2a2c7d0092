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
    /// Elements per worker below which threading costs more than it saves.
    private static var optimizerGrain: Int { 1 << 16 }

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
        parallelRanges(count: count, grain: optimizerGrain) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let g = load(grad + i)
                let mi = beta1 * load(m + i) + g1 * g
                let vi = beta2 * load(v + i) + g2 * g * g
                store(m + i, mi)
                store(v + i, vi)
                // Lane-wise scalar square roots: SIMD8.squareRoot() is no faster on baseline x86-64.
                let vh = vi / c2
                var root = Vec()
                for l in 0..<8 { root[l] = vh[l].squareRoot() }
                store(param + i, load(param + i) - lr * (mi / c1) / (root + eps))
                i += 8
            }
            while i < range.upperBound {
                let g = grad[i]
                let mi = beta1 * m[i] + g1 * g
                let vi = beta2 * v[i] + g2 * g * g
                m[i] = mi
                v[i] = vi
                param[i] = param[i] - lr * (mi / c1) / ((vi / c2).squareRoot() + eps)
                i += 1
            }
        }
    }

    /// One SGD step: with momentum > 0, velocity = momentum·velocity + g and p −= lr·velocity;
    /// with momentum == 0 (velocity may be nil), p −= lr·g.
    public static func sgdStep(param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?,
                               grad: UnsafePointer<Float>, count: Int, lr: Float, momentum: Float) {
        parallelRanges(count: count, grain: optimizerGrain) { range in
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
