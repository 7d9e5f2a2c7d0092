// Vector math shared by the kernels: exp, expm1, tanh on SIMD8<Float>, plus the lane helpers.
//
// Written with lane-wise IEEE operations only, so a value's result does not depend on which lane
// or which vector it sits in: tails go through the same code via `loadPartial`, which keeps
// elementwise results identical however the work is split. exp, expm1 and tanh use the C kernels'
// formulas and constants (CKernels/internal.h, activation.c): 1-5 ulp. The stdlib's
// `pointwiseMin/Max`, `.max()` and `.squareRoot()` on SIMD types are per-lane scalar code on
// baseline x86-64, so the kernels use the compare-and-select helpers below instead.

typealias Vec = SIMD8<Float>

@inline(__always)
func vmax(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .> a) }

@inline(__always)
func vmin(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .< a) }

/// Largest lane (NaN lanes are skipped unless lane 0 is NaN).
@inline(__always)
func horizontalMax(_ v: Vec) -> Float {
    var m = v[0]
    for i in 1..<8 where v[i] > m { m = v[i] }
    return m
}

/// Loads `count` (≤ 8) floats into the low lanes, 4, 2 and 1 at a time; the others hold `fill`.
@inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ count: Int, fill: Float = 0) -> Vec {
    let raw = UnsafeRawPointer(p)
    let fill4 = SIMD4<Float>(repeating: fill)
    @inline(__always) func upTo4(_ at: Int, _ n: Int) -> SIMD4<Float> {
        switch n {
        case 4: return raw.loadUnaligned(fromByteOffset: at * 4, as: SIMD4<Float>.self)
        case 3: return SIMD4(lowHalf: raw.loadUnaligned(fromByteOffset: at * 4, as: SIMD2<Float>.self),
                             highHalf: SIMD2(p[at + 2], fill))
        case 2: return SIMD4(lowHalf: raw.loadUnaligned(fromByteOffset: at * 4, as: SIMD2<Float>.self),
                             highHalf: fill4.lowHalf)
        case 1: return SIMD4(p[at], fill, fill, fill)
        default: return fill4
        }
    }
    return count >= 4 ? Vec(lowHalf: upTo4(0, 4), highHalf: upTo4(4, count - 4))
                      : Vec(lowHalf: upTo4(0, count), highHalf: fill4)
}

/// Stores the low `count` (≤ 8) lanes: 4, 2 and 1 at a time (a lane at a time was most of a narrow
/// product's tile stores: 6 filters per pixel in a greyscale convolution).
@inline(__always)
func storePartial(_ p: UnsafeMutablePointer<Float>, _ v: Vec, _ count: Int) {
    let raw = UnsafeMutableRawPointer(p)
    var rest = v.lowHalf, done = 0
    if count >= 4 {
        raw.storeBytes(of: v.lowHalf, as: SIMD4<Float>.self)
        rest = v.highHalf
        done = 4
    }
    switch count - done {
    case 4: raw.storeBytes(of: rest, toByteOffset: done * 4, as: SIMD4<Float>.self)
    case 3:
        raw.storeBytes(of: rest.lowHalf, toByteOffset: done * 4, as: SIMD2<Float>.self)
        p[done + 2] = rest[2]
    case 2: raw.storeBytes(of: rest.lowHalf, toByteOffset: done * 4, as: SIMD2<Float>.self)
    case 1: p[done] = rest[0]
    default: break
    }
}

@inline(__always)
func load(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always)
func store(_ p: UnsafeMutablePointer<Float>, _ v: Vec) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// √x for x ≥ 0 in vector lanes. Float.squareRoot() keeps a libm call for negative inputs, so on
/// vectors it runs lane by lane, which dominated Adam's time. Instead: 1/√x from a first
/// guess made of the bits (exponent halved and negated, within 4 %) and three Newton steps
/// y ← y·(1.5 − x·y²/2), multiplications only, which reach float precision; then √x = x·y (within a
/// few ulps of the rounded root). 0 and +∞ are passed through exactly; subnormal x are not handled.
@inline(__always)
func squareRoot(nonNegative x: Vec) -> Vec {
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    var y = unsafeBitCast(0x5F37_59DF &- (bits &>> 1), to: Vec.self)
    let minusHalf = -0.5 * x
    y = y * mulAdd(minusHalf * y, y, 1.5)
    y = y * mulAdd(minusHalf * y, y, 1.5)
    y = y * mulAdd(minusHalf * y, y, 1.5)
    return (x * y).replacing(with: x, where: (x .== 0) .| (x .== .infinity))
}

/// x = n·ln2 + r with |r| ≤ ln2/2, the C kernels' dk__exp_reduce: adding 1.5·2²³ + 127 rounds
/// x·log2(e) to n + 127 in the sum's low mantissa bits, so shifting the sum left by 23 gives 2ⁿ.
/// x must be clamped so that n + 127 stays in [0, 255] (see vexp).
@inline(__always)
func expReduce(_ x: Vec) -> (r: Vec, scale: Vec) {
    let magic: Float = 12583039
    let t = mulAdd(x, Vec(repeating: 1.44269504088896341), magic)
    let n = t - magic
    // ln2 split in a part exact in Float and a correction, so r keeps full precision.
    var r = mulAdd(n, Vec(repeating: -0.693359375), x)
    r = mulAdd(n, Vec(repeating: 2.12194440e-4), r)
    return (r, unsafeBitCast(unsafeBitCast(t, to: SIMD8<UInt32>.self) &<< 23, to: Vec.self))
}

/// e^x lane-wise, the C kernels' dk__exp (degree-5 polynomial, 1.05e-7 relative error): +inf above
/// about 88.38, 0 below about −87.7 (subnormal results are flushed), NaN propagates.
@inline(__always)
func vexp(_ x: Vec) -> Vec {
    // n + 127 = 0 below −88 makes the factor 0; 255 above 88.9 makes it +inf. NaN passes vmin/vmax.
    let (r, scale) = expReduce(vmin(vmax(x, Vec(repeating: -88)), Vec(repeating: 88.9)))
    var p = Vec(repeating: 8.312477730e-3)
    p = mulAdd(p, r, 4.189055040e-2)
    p = mulAdd(p, r, 1.666711569e-1)
    p = mulAdd(p, r, 4.999922812e-1)
    p = mulAdd(p, r, 1)
    return mulAdd(p, r, 1) * scale
}

/// e^x − 1 lane-wise without cancellation near 0, the C kernels' dk__expm1: 2ⁿ·(eʳ − 1) + (2ⁿ − 1)
/// with eʳ − 1 = r + r²·q(r). Saturates at e^88.3 − 1 instead of overflowing; −1 below −88.
@inline(__always)
func vexpm1(_ x: Vec) -> Vec {
    let (r, scale) = expReduce(vmin(vmax(x, Vec(repeating: -88)), Vec(repeating: 88.3)))
    var q = Vec(repeating: 1.388250967e-3)
    q = mulAdd(q, r, 8.366580121e-3)
    q = mulAdd(q, r, 4.166720062e-2)
    q = mulAdd(q, r, 1.666654348e-1)
    q = mulAdd(q, r, 4.999999702e-1)
    let expm1R = mulAdd(r * r, q, r)
    return mulAdd(scale, expm1R, scale - 1)
}

/// tanh lane-wise: x·P(x²)/Q(x²), the C kernels' rational fit (scripts/fit-tanh.py; at most 5 ulp).
/// x is clamped to ±8, which keeps |tanh| below 1 so that 1 − y² stays non-negative; NaN propagates.
@inline(__always)
func vtanh(_ x: Vec) -> Vec {
    let xc = vmin(vmax(x, Vec(repeating: -8)), Vec(repeating: 8))
    let s = xc * xc
    var p = Vec(repeating: 1.523055282e-08)
    p = mulAdd(p, s, 2.189474981e-05)
    p = mulAdd(p, s, 3.571602982e-03)
    p = mulAdd(p, s, 1.344450265e-01)
    p = mulAdd(p, s, 1)
    var q = Vec(repeating: 8.522498547e-07)
    q = mulAdd(q, s, 3.411300422e-04)
    q = mulAdd(q, s, 2.616446279e-02)
    q = mulAdd(q, s, 4.677782953e-01)
    q = mulAdd(q, s, 1)
    return xc * p / q
}
