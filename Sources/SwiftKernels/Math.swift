// Vector math shared by the kernels: exp, expm1, tanh on SIMD8<Float>, plus the lane helpers.
//
// Written with lane-wise IEEE operations only, so a value's result does not depend on which lane
// or which vector it sits in: tails go through the same code via `loadPartial`, which keeps
// elementwise results identical however the work is split. Accuracy is ~1-2 ulp (Cephes-style
// range reduction and polynomials). The stdlib's `pointwiseMin/Max`, `.max()` and
// `.squareRoot()` on SIMD types are per-lane scalar code on baseline x86-64, so the kernels use
// the compare-and-select helpers below instead.

typealias Vec = SIMD8<Float>

@inline(__always)
func vmax(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .> a) }

@inline(__always)
func vmin(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .< a) }

/// |x| lane-wise, by clearing the sign bit.
@inline(__always)
func vabs(_ x: Vec) -> Vec {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Vec.self)
}

/// Largest lane (NaN lanes are skipped unless lane 0 is NaN).
@inline(__always)
func horizontalMax(_ v: Vec) -> Float {
    var m = v[0]
    for i in 1..<8 where v[i] > m { m = v[i] }
    return m
}

/// Loads `count` (< 8) floats into the low lanes; the others hold `fill`.
@inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ count: Int, fill: Float = 0) -> Vec {
    var v = Vec(repeating: fill)
    for i in 0..<count { v[i] = p[i] }
    return v
}

/// Stores the low `count` (< 8) lanes.
@inline(__always)
func storePartial(_ p: UnsafeMutablePointer<Float>, _ v: Vec, _ count: Int) {
    for i in 0..<count { p[i] = v[i] }
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
/// vectors it runs lane by lane (it took three quarters of Adam's time). Instead: 1/√x from a first
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

/// e^x lane-wise. Overflows to +inf above 88.72, underflows (through subnormals) to 0 below
/// -103.97, propagates NaN.
@inline(__always)
func vexp(_ x: Vec) -> Vec {
    let hi: Float = 88.72283, lo: Float = -103.97208
    let xc = vmin(vmax(x, Vec(repeating: lo)), Vec(repeating: hi))
    // n = round(x / ln2) with the 1.5·2^23 trick: the sum's low mantissa bits hold n.
    let shifter: Float = 12582912
    let t = mulAdd(xc, Vec(repeating: 1.44269504088896341), shifter)
    let n = t - shifter
    // r = x − n·ln2 with ln2 split in two so the product is exact enough.
    var r = mulAdd(n, Vec(repeating: -0.693359375), xc)
    r = mulAdd(n, Vec(repeating: 2.12194440e-4), r)
    var p: Vec = Vec(repeating: 1.9875691500e-4)
    p = mulAdd(p, r, 1.3981999507e-3)
    p = mulAdd(p, r, 8.3334519073e-3)
    p = mulAdd(p, r, 4.1665795894e-2)
    p = mulAdd(p, r, 1.6666665459e-1)
    p = mulAdd(p, r, 5.0000001201e-1)
    p = mulAdd(p, r * r, r) + 1
    // 2^n in two halves so n in [-150, 128] never leaves the normal exponent range.
    let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let n1 = ni &>> 1, n2 = ni &- n1
    let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: Vec.self)
    let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: Vec.self)
    var y = p * s1 * s2
    y.replace(with: .infinity, where: x .> hi)
    y.replace(with: 0, where: x .< lo)
    y.replace(with: x, where: x .!= x)
    return y
}

/// e^x − 1 lane-wise, accurate near 0 (a Taylor polynomial for |x| < 0.5, where exp(x) − 1
/// would cancel).
@inline(__always)
func vexpm1(_ x: Vec) -> Vec {
    var p = Vec(repeating: 1.0 / 40320)
    p = mulAdd(p, x, 1.0 / 5040)
    p = mulAdd(p, x, 1.0 / 720)
    p = mulAdd(p, x, 1.0 / 120)
    p = mulAdd(p, x, 1.0 / 24)
    p = mulAdd(p, x, 1.0 / 6)
    p = mulAdd(p, x, 0.5)
    let small = mulAdd(p, x * x, x)
    let large = vexp(x) - 1
    return large.replacing(with: small, where: vabs(x) .< 0.5)
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
