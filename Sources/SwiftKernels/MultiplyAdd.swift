// The multiply-add of the GEMM kernels and polynomials, fused where the build has FMA hardware.

extension SIMD where Scalar: FloatingPoint {
    /// self += x·y: one fused multiply-add (one rounding) in the AVX2+FMA and AVX-512 builds
    /// (`SwiftKernelsAVX2`, `SwiftKernelsAVX512`, compiled with DENDRITE_FMA), a multiply then an add elsewhere, where `addingProduct` would
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

/// a·b + c in vector lanes, fused in the FMA build (see `multiplyAdd`): Horner steps and range
/// reductions of the exp-based kernels.
@inline(__always)
func mulAdd(_ a: Vec, _ b: Vec, _ c: Vec) -> Vec {
    var r = c
    r.multiplyAdd(a, b)
    return r
}

@inline(__always)
func mulAdd(_ a: Vec, _ b: Vec, _ c: Float) -> Vec { mulAdd(a, b, Vec(repeating: c)) }
