// The forward of thin greyscale convolutions with output pixels in the vector lanes: the Swift
// counterpart of CKernels/conv_direct.c. As a product, a layer of 6 filters (LeNet-5's first) fills
// 6 of a tile's 8 lanes and broadcasts one pixel per multiply-add; here 16 consecutive output pixels
// of a row sit in two vectors, each filter has its own pair of accumulators, and every input vector
// feeds all filters. The results go out pixel by pixel (each pixel's filters contiguous, NHWC) through
// a transpose in registers.
//
// Bits: each output is summed over the field in ascending order, one multiply-add per term from zero,
// as the direct tile does (a product's two factors commute in a multiply-add), so the results equal
// im2col + sgemm's for any thread count.

extension SwiftKernels {
    /// Filters the kernel holds at once: 6 pairs of accumulators, 2 input vectors and a broadcast
    /// weight fill the FMA build's 16 registers.
    static let pixelLaneFilters = 6
    /// Output pixels per block: two vectors' lanes.
    static let pixelLaneWidth = 16
    /// Whether output rows go two at a time (`pixelLanesRowPair`): in the AVX-512 build, whose 32 registers
    /// hold 16 pixels of two rows by 6 filters in 12 zmm accumulators.
    #if DENDRITE_AVX512
    static let pixelLanePairs = true
    #else
    static let pixelLanePairs = false
    #endif

    /// Whether a forward tile row can take the pixel-lane kernel: the FMA build, one input channel
    /// read with stride 1 along the row, at most `pixelLaneFilters` filters (with 7 or 8 the product
    /// tile already fills its lanes), rows of at least one block, and a field within one K block
    /// (so each sum starts from zero).
    static func pixelLanesApply(window w: Window, n: Int, k: Int, kc: Int) -> Bool {
        Direct.takesEveryShape && w.channels == 1 && w.strideW == 1 && n <= pixelLaneFilters
            && w.outW >= pixelLaneWidth && k <= kc
    }

    /// out[ox·n + f] = Σ_p field(ox, p)·weights[p·rsw + f] for every pixel ox of one output row, where
    /// pixel ox's field position p is at `row + ox + table[p]`. The last block overlaps the one before
    /// when the row is not a multiple of 16 pixels, rewriting the same values.
    @inline(__always)
    static func pixelLanesRow(out: UnsafeMutablePointer<Float>, row: UnsafePointer<Float>, table: UnsafePointer<Int32>,
                              weights: UnsafePointer<Float>, rsw: Int, k: Int, n: Int, outW: Int) {
        // A type per filter count, so each specialization's count is a constant and the accumulators it
        // does not use vanish.
        switch n {
        case 1: pixelLanesBlocks(out: out, row: row, table: table, weights: weights, rsw: rsw, k: k, outW: outW, One.self)
        case 2: pixelLanesBlocks(out: out, row: row, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Two.self)
        case 3: pixelLanesBlocks(out: out, row: row, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Three.self)
        case 4: pixelLanesBlocks(out: out, row: row, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Four.self)
        case 5: pixelLanesBlocks(out: out, row: row, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Five.self)
        default: pixelLanesBlocks(out: out, row: row, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Six.self)
        }
    }

    /// `pixelLanesRow` for two output rows at once, the second's windows `next` floats below the first's
    /// and its pixels right after the first's in `out`. (Only the AVX-512 build calls it.)
    @inline(__always)
    static func pixelLanesRowPair(out: UnsafeMutablePointer<Float>, row: UnsafePointer<Float>, next: Int,
                                  table: UnsafePointer<Int32>, weights: UnsafePointer<Float>, rsw: Int, k: Int, n: Int,
                                  outW: Int) {
        #if DENDRITE_AVX512
        switch n {
        case 1: pixelLanePairBlocks(out: out, row: row, next: next, table: table, weights: weights, rsw: rsw, k: k, outW: outW, One.self)
        case 2: pixelLanePairBlocks(out: out, row: row, next: next, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Two.self)
        case 3: pixelLanePairBlocks(out: out, row: row, next: next, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Three.self)
        case 4: pixelLanePairBlocks(out: out, row: row, next: next, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Four.self)
        case 5: pixelLanePairBlocks(out: out, row: row, next: next, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Five.self)
        default: pixelLanePairBlocks(out: out, row: row, next: next, table: table, weights: weights, rsw: rsw, k: k, outW: outW, Six.self)
        }
        #else
        preconditionFailure("row pairs are the AVX-512 build's")
        #endif
    }

    private protocol FilterCount { static var count: Int { get } }
    private enum One: FilterCount { static var count: Int { 1 } }
    private enum Two: FilterCount { static var count: Int { 2 } }
    private enum Three: FilterCount { static var count: Int { 3 } }
    private enum Four: FilterCount { static var count: Int { 4 } }
    private enum Five: FilterCount { static var count: Int { 5 } }
    private enum Six: FilterCount { static var count: Int { 6 } }

    private static func pixelLanesBlocks<Filters: FilterCount>(
        out: UnsafeMutablePointer<Float>, row: UnsafePointer<Float>, table: UnsafePointer<Int32>,
        weights: UnsafePointer<Float>, rsw: Int, k: Int, outW: Int, _: Filters.Type
    ) {
        let nf = Filters.count
        var ox = 0
        while ox < outW {
            let x0 = min(ox, outW - pixelLaneWidth)
            pixelLanesBlock(out: out + x0 * nf, field: row + x0, table: table, weights: weights, rsw: rsw, k: k,
                            filters: nf)
            ox += pixelLaneWidth
        }
    }

    #if DENDRITE_AVX512
    private static func pixelLanePairBlocks<Filters: FilterCount>(
        out: UnsafeMutablePointer<Float>, row: UnsafePointer<Float>, next: Int, table: UnsafePointer<Int32>,
        weights: UnsafePointer<Float>, rsw: Int, k: Int, outW: Int, _: Filters.Type
    ) {
        let nf = Filters.count
        var ox = 0
        while ox < outW {
            let x0 = min(ox, outW - pixelLaneWidth)
            // a: the first row's 16 pixels, b: the second's.
            var sums = PixelLaneSums<SIMD16<Float>>()
            for p in 0..<k {
                let x = row + x0 + Int(table[p])
                sums.multiplyAdd(UnsafeRawPointer(x).loadUnaligned(as: SIMD16<Float>.self),
                                 UnsafeRawPointer(x + next).loadUnaligned(as: SIMD16<Float>.self), weights + p * rsw,
                                 filters: nf)
            }
            sums.firstRow.storeTransposed(out + x0 * nf, filters: nf)
            sums.secondRow.storeTransposed(out + (outW + x0) * nf, filters: nf)
            ox += pixelLaneWidth
        }
    }
    #endif

    /// The accumulators of two vectors of pixels by up to 6 filters: `aJ` and `bJ` hold filter J of each
    /// vector's pixels in their lanes. With 8 lanes (every FMA build) a and b are pixels 0..<8 and 8..<16
    /// of a row; with 16 (`pixelLanePairs`) the same 16 pixels of two rows.
    fileprivate struct PixelLaneSums<V: SIMD> where V.Scalar == Float {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V()
        var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V(), b5 = V()

        /// One field position: its input for a's pixels and b's times each filter's weight. Each broadcast
        /// serves both before the next is loaded, so the 12 accumulators, two inputs and one weight fit in
        /// 16 registers.
        @inline(__always)
        mutating func multiplyAdd(_ a: V, _ b: V, _ w: UnsafePointer<Float>, filters nf: Int) {
            var x = V(repeating: w[0])
            a0.multiplyAdd(a, x); b0.multiplyAdd(b, x)
            guard nf > 1 else { return }
            x = V(repeating: w[1]); a1.multiplyAdd(a, x); b1.multiplyAdd(b, x)
            guard nf > 2 else { return }
            x = V(repeating: w[2]); a2.multiplyAdd(a, x); b2.multiplyAdd(b, x)
            guard nf > 3 else { return }
            x = V(repeating: w[3]); a3.multiplyAdd(a, x); b3.multiplyAdd(b, x)
            guard nf > 4 else { return }
            x = V(repeating: w[4]); a4.multiplyAdd(a, x); b4.multiplyAdd(b, x)
            guard nf > 5 else { return }
            x = V(repeating: w[5]); a5.multiplyAdd(a, x); b5.multiplyAdd(b, x)
        }
    }
}

extension SwiftKernels.PixelLaneSums where V == SIMD16<Float> {
    /// Each row's sums as one row's halves, to store through `storeTransposed`.
    var firstRow: SwiftKernels.PixelLaneSums<SIMD8<Float>> { Self.halves(a0, a1, a2, a3, a4, a5) }
    var secondRow: SwiftKernels.PixelLaneSums<SIMD8<Float>> { Self.halves(b0, b1, b2, b3, b4, b5) }

    @inline(__always)
    private static func halves(_ s0: V, _ s1: V, _ s2: V, _ s3: V, _ s4: V, _ s5: V) -> SwiftKernels.PixelLaneSums<SIMD8<Float>> {
        .init(a0: s0.lowHalf, a1: s1.lowHalf, a2: s2.lowHalf, a3: s3.lowHalf, a4: s4.lowHalf, a5: s5.lowHalf,
              b0: s0.highHalf, b1: s1.highHalf, b2: s2.highHalf, b3: s3.highHalf, b4: s4.highHalf, b5: s5.highHalf)
    }
}

extension SwiftKernels.PixelLaneSums where V == SIMD8<Float> {
    /// Writes the 16 pixels' sums pixel-major: pixel i's nf filters at out + i·nf. Each half's
    /// filters are transposed in registers into one vector per pixel (lanes past nf hold junk); a
    /// pixel's 8-float store then also covers the start of the pixels after it, which are stored
    /// later, and the last pixels, whose 8 floats would pass the block, write their nf floats only.
    @inline(__always)
    func storeTransposed(_ out: UnsafeMutablePointer<Float>, filters nf: Int) {
        let raw = UnsafeMutableRawPointer(out)
        let pixels = (SwiftKernels.transposed(a0, a1, a2, a3, a4, a5), SwiftKernels.transposed(b0, b1, b2, b3, b4, b5))
        let wholeStores = 16 - (8 + nf - 1) / nf + 1  // pixels i with i·nf + 8 ≤ 16·nf
        withUnsafeBytes(of: pixels) { pixels in
            for i in 0..<wholeStores {
                raw.storeBytes(of: pixels.load(fromByteOffset: 32 * i, as: SIMD8<Float>.self),
                               toByteOffset: 4 * nf * i, as: SIMD8<Float>.self)
            }
            for i in wholeStores..<16 {
                storePartial(out + i * nf, pixels.load(fromByteOffset: 32 * i, as: SIMD8<Float>.self), nf)
            }
        }
    }
}

extension SwiftKernels {
    /// Pixel-major vectors of 8 pixels from their filters 0..<6 (rows of an 8×8 transpose whose last
    /// two rows are junk): result i holds pixel i's filters in lanes 0..<6. Written as lane selections
    /// with constant indices, which the compiler turns into the usual unpack, shuffle and lane-permute steps.
    @inline(__always)
    fileprivate static func transposed(_ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>, _ r3: SIMD8<Float>,
                                   _ r4: SIMD8<Float>, _ r5: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
            SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        // Pairs of rows interleaved within each 128-bit half.
        @inline(__always) func unpackLow(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
            SIMD8(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5])
        }
        @inline(__always) func unpackHigh(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
            SIMD8(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7])
        }
        // Two floats of a, then two of b, from each 128-bit half (at `first`).
        @inline(__always) func pairs(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ first: Int) -> SIMD8<Float> {
            SIMD8(a[first], a[first + 1], b[first], b[first + 1], a[first + 4], a[first + 5], b[first + 4], b[first + 5])
        }
        @inline(__always) func halves(_ a: SIMD8<Float>, _ b: SIMD8<Float>, high: Bool) -> SIMD8<Float> {
            high ? SIMD8(lowHalf: a.highHalf, highHalf: b.highHalf) : SIMD8(lowHalf: a.lowHalf, highHalf: b.lowHalf)
        }
        let junk = SIMD8<Float>()
        let t0 = unpackLow(r0, r1), t1 = unpackHigh(r0, r1), t2 = unpackLow(r2, r3), t3 = unpackHigh(r2, r3)
        let t4 = unpackLow(r4, r5), t5 = unpackHigh(r4, r5)
        // uJ holds pixels J and J + 4 of filters 0..<4, vJ of filters 4..<8.
        let u0 = pairs(t0, t2, 0), u1 = pairs(t0, t2, 2), u2 = pairs(t1, t3, 0), u3 = pairs(t1, t3, 2)
        let v0 = pairs(t4, junk, 0), v1 = pairs(t4, junk, 2), v2 = pairs(t5, junk, 0), v3 = pairs(t5, junk, 2)
        return (halves(u0, v0, high: false), halves(u1, v1, high: false), halves(u2, v2, high: false),
                halves(u3, v3, high: false), halves(u0, v0, high: true), halves(u1, v1, high: true),
                halves(u2, v2, high: true), halves(u3, v3, high: true))
    }

    /// 16 pixels from `field` (pixel i's field position p at field + i + table[p]) by `nf` filters.
    @inline(__always)
    private static func pixelLanesBlock(out: UnsafeMutablePointer<Float>, field: UnsafePointer<Float>,
                                        table: UnsafePointer<Int32>, weights: UnsafePointer<Float>, rsw: Int, k: Int,
                                        filters nf: Int) {
        var sums = PixelLaneSums<SIMD8<Float>>()
        for p in 0..<k {
            let x = UnsafeRawPointer(field + Int(table[p]))
            sums.multiplyAdd(x.loadUnaligned(as: SIMD8<Float>.self), x.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
                             weights + p * rsw, filters: nf)
        }
        sums.storeTransposed(out, filters: nf)
    }
}
