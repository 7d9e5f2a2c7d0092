// The multiply-add of every GEMM kernel, fused where the build has FMA hardware.

extension SIMD where Scalar: FloatingPoint {
    /// self += x·y: one fused multiply-add (one rounding) in the AVX2+FMA build (`SwiftKernelsAVX2`,
    /// compiled with DENDRITE_FMA), a multiply then an add elsewhere, where `addingProduct` would
    /// become a libm call per lane.
    @inline(__always)
    mutating func multiplyAdd(_ x: Self, _ y: Self) {
        #if DENDRITE_FMA
        self = addingProduct(x, y)
        #else
        self += x * y
        #endif
    }
}
