// The input gradient of greyscale convolutions (one input channel, stride 1 along the rows) with
// image columns in the vector lanes. col2im adds each pixel's unfolded gradient into its window: for a
// greyscale 5x5 layer, 5 runs of 5 floats per pixel, each overlapping the run the pixel before added
// (a load waiting on a store it only partly covers). Here a vector holds 8 consecutive columns of one
// image row; for each output row and kernel row it adds, kernel column by kernel column, the unfolded
// gradients of the 8 pixels whose windows put that kernel column there. Each of those is computed in
// its lanes from a transposed copy of the output row's dout (filters as rows, pixels along them).
//
// Bits: an unfolded element is one multiply-add chain over the filters in order from zero, as sgemm
// computes dout · weightᵀ (whose K, the filters, is one block; a product's factors commute), and an
// image element gets its pixels' elements added in pixel order (output rows in order, then columns:
// kernel columns from last to first), from zero, as col2im adds them; so the results equal im2col's
// adjoint on the same product, for any thread count.

extension SwiftKernels {
    /// Whether `convolutionBackwardInputs` takes this path: few filters, whose chains are short. With 32
    /// (the `cnn` preset's 3x3 first layer) the chains wait on each other and col2im's scatter is faster.
    static func imageRowLanesApply(window w: Window, n: Int) -> Bool {
        w.channels == 1 && w.strideW == 1 && n <= 8
    }

    /// Floats of scratch `imageRowLanesImage` needs: the transposed dout of one output row.
    static func imageRowLanesScratch(window w: Window, n: Int) -> Int {
        n * transposedRowFloats(w)
    }

    /// The unfolded elements at kernel columns kx, kx - 1, …, kx - columns + 1 (columns ≤ 5) of the 8
    /// pixels whose windows put them at a vector's 8 image columns: element c, lane j is the chain over
    /// the filters of the transposed dout at row + c + j (row: filter 0's entry of column kx's first pixel;
    /// filters `rowFloats` apart) times the weights of column kx - c (filter f at weights[f - c·n]).
    @inline(__always)
    private static func unfoldedElements(_ row: UnsafePointer<Float>, rowFloats: Int, weights: UnsafePointer<Float>,
                                         n: Int, columns: Int) -> (Vec, Vec, Vec, Vec, Vec) {
        var e0 = Vec(), e1 = Vec(), e2 = Vec(), e3 = Vec(), e4 = Vec()
        // Kernel column kx - c puts pixel ox + c at the column where column kx puts pixel ox.
        for f in 0..<n {
            let x = row + f * rowFloats
            e0.multiplyAdd(load(x), Vec(repeating: weights[f]))
            if columns > 1 { e1.multiplyAdd(load(x + 1), Vec(repeating: weights[f - n])) }
            if columns > 2 { e2.multiplyAdd(load(x + 2), Vec(repeating: weights[f - 2 * n])) }
            if columns > 3 { e3.multiplyAdd(load(x + 3), Vec(repeating: weights[f - 3 * n])) }
            if columns > 4 { e4.multiplyAdd(load(x + 4), Vec(repeating: weights[f - 4 * n])) }
        }
        return (e0, e1, e2, e3, e4)
    }

    /// All bits set in lane j when pixel first + j lies in the output row [0, outW), else none. (Integer
    /// arithmetic on the sign bit: SIMD comparisons here compile to a loop over the lanes.)
    @inline(__always)
    private static func pixelsInside(first: Int, outW: Int) -> SIMD8<UInt32> {
        let ox = SIMD8<Int32>(repeating: Int32(first)) &+ SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
        let outside = (ox | (SIMD8<Int32>(repeating: Int32(outW - 1)) &- ox)) &>> 31
        return SIMD8<UInt32>(truncatingIfNeeded: ~outside)
    }

    /// sum + element in the lanes of `inside`, sum unchanged in the others.
    @inline(__always)
    private static func adding(_ element: Vec, to sum: Vec, inside: SIMD8<UInt32>) -> Vec {
        let added = unsafeBitCast(sum + element, to: SIMD8<UInt32>.self), kept = unsafeBitCast(sum, to: SIMD8<UInt32>.self)
        return unsafeBitCast((added & inside) | (kept & ~inside), to: Vec.self)
    }

    /// A transposed dout row: the row's pixels with kernelW - 1 columns on the left and 8 + kernelW - 1
    /// on the right, so every vector a kernel column reads stays inside it (lanes past the row are masked).
    private static func transposedRowFloats(_ w: Window) -> Int { (w.outW + 2 * (w.kernelW - 1) + 8 + 7) & ~7 }

    /// Adds one image's input gradient into `target` (zero, laid out as `rowStride` floats per row from
    /// the top-left of the windows' reach: a padded copy when the layer pads): dout (pixels, n) of the
    /// image, weight (field, n).
    static func imageRowLanesImage(target: UnsafeMutablePointer<Float>, rowStride: Int, dout: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, n: Int, window w: Window,
                                   scratch: UnsafeMutablePointer<Float>) {
        let rowFloats = transposedRowFloats(w), left = w.kernelW - 1
        let spanW = w.outW + w.kernelW - 1
        fillZeros(scratch, n * rowFloats)
        for oy in 0..<w.outH {
            // Row f of the scratch: filter f's dout along the output row.
            let pixels = dout + oy * w.outW * n
            for ox in 0..<w.outW {
                for f in 0..<n { scratch[f * rowFloats + left + ox] = pixels[ox * n + f] }
            }
            for ky in 0..<w.kernelH {
                let row = target + (oy * w.strideH + ky) * rowStride
                var x0 = 0
                while x0 < spanW {
                    let lanes = min(8, spanW - x0)
                    var sum = lanes == 8 ? load(row + x0) : loadPartial(row + x0, lanes)
                    // Kernel columns from last to first, up to 5 at a time: their chains over the filters
                    // are independent, and one alone would wait on each multiply-add's latency.
                    var kx = w.kernelW - 1
                    while kx >= 0 {
                        let count = min(5, kx + 1)
                        let elements = unfoldedElements(scratch + left + x0 - kx, rowFloats: rowFloats,
                                                        weights: weight + (ky * w.kernelW + kx) * n, n: n,
                                                        columns: count)
                        withUnsafeBytes(of: elements) { raw in
                            for c in 0..<count {
                                let element = raw.load(fromByteOffset: 32 * c, as: Vec.self), first = x0 - (kx - c)
                                if first >= 0 && first + 8 <= w.outW {
                                    sum += element
                                } else {
                                    // Lanes whose pixel lies outside the output row read the zero padding;
                                    // leaving them out, rather than adding their +0, stays exact when a
                                    // weight is infinite (0·∞ is NaN).
                                    sum = adding(element, to: sum, inside: pixelsInside(first: first, outW: w.outW))
                                }
                            }
                        }
                        kx -= count
                    }
                    if lanes == 8 { store(row + x0, sum) } else { storePartial(row + x0, sum, lanes) }
                    x0 += 8
                }
            }
        }
    }
}
